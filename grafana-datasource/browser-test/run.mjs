// Browser check: the two editors rendered in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), a screenshot of each in test-output/, and assertions on what a person would see.
//
// A small HTTP server on 127.0.0.1 serves the harness page (browser-test/dist/harness.js, built by
// webpack.harness.config.ts) and answers the datasource's resource calls the way the Go backend does, so the
// metric-name completion travels the real path: editor → DataSource.getResource → HTTP → JSON.
//
// The window is 1280 px wide, and the page loads the fonts Grafana ships (Inter, Roboto Mono: public/fonts/ in a
// Grafana server, here the same files from their npm packages), so what is measured is what a user of a 1280 px
// screen sees rather than the machine's fallback fonts.
//
// `node browser-test/run.mjs --update-screenshots` also writes the catalog screenshots plugin.json names
// (src/img/screenshot-*.png) from the same pages.
//
// Prints "N passed, N failed" and exits non-zero when a check fails.
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const outDir = join(root, 'test-output');
const uiPublic = join(root, 'node_modules', '@grafana', 'ui', 'dist', 'public');
const imgDir = join(root, 'src', 'img');
const updateScreenshots = process.argv.includes('--update-screenshots');
const VIEWPORT = { width: 1280, height: 800 };
// Grafana's panel editor at 1280 px leaves the query editor about this much beside the options pane.
const PANEL_EDITOR_WIDTH = 860;

// The font files @grafana/ui's global styles ask for (themes/GlobalStyles/fonts), by the path Grafana serves them
// under, and the npm package file with the same font.
const FONTS = {
  'roboto/L0xTDF4xlVMF-BfR8bXMIhJHg45mwgGEFl0_3vrtSM1J-gEPT5Ese6hmHSh0mQ.woff2': join(
    root,
    'node_modules/@fontsource/roboto-mono/files/roboto-mono-latin-400-normal.woff2'
  ),
  'inter/Inter-Regular.woff2': join(root, 'node_modules/inter-ui/web/Inter-Regular.woff2'),
  'inter/Inter-Medium.woff2': join(root, 'node_modules/inter-ui/web/Inter-Medium.woff2'),
};
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const METRICS = [
  'purpleair_humidity',
  'purpleair_pm1_0_atm',
  'purpleair_pm2_5_atm',
  'purpleair_pm2_5_cf_1',
  'purpleair_pressure',
  'purpleair_temperature',
  'up',
];

// Grafana's own page has no body margin; with the browser's default 8 px the global styles' full-width body would
// scroll sideways.
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Hazewatch editors</title>
<style>body { margin: 0 }</style></head>
<body><div id="root"></div><script src="/harness.js"></script></body></html>`;

// GET /api/datasources/uid/<uid>/resources/metrics?match=<text> → names containing text (any case), like
// pkg/plugin/resources.go.
function metrics(url) {
  const match = (url.searchParams.get('match') ?? '').toLowerCase();
  return [200, METRICS.filter((n) => n.toLowerCase().includes(match))];
}

// GET /api/datasources/uid/<uid>/resources/labels → every label name, like Prometheus's /api/v1/labels.
const LABELS = ['__name__', 'instance', 'job', 'location_type', 'sensor_index'];

const requests = [];
function startServer(harnessJs) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push(url.pathname + url.search);
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else if (url.pathname === '/harness.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' }).end(harnessJs);
    } else if (url.pathname === '/api/datasources/uid/hazewatch/resources/metrics') {
      const [status, body] = metrics(url);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (url.pathname === '/api/datasources/uid/hazewatch/resources/labels') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(LABELS));
    } else if (url.pathname.startsWith('/public/fonts/')) {
      const file = FONTS[url.pathname.slice('/public/fonts/'.length)];
      if (file && existsSync(file)) {
        res.writeHead(200, { 'content-type': 'font/woff2' }).end(readFileSync(file));
      } else {
        res.writeHead(404).end();
      }
    } else if (url.pathname.startsWith('/public/img/icons/') && !url.pathname.includes('..')) {
      // Grafana serves its icons from public/; @grafana/ui ships the same files.
      const file = join(uiPublic, url.pathname.slice('/public/'.length));
      if (existsSync(file)) {
        res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(readFileSync(file));
      } else {
        res.writeHead(404).end();
      }
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(
      `FAIL ${name}\n     ${String(err?.message ?? err)
        .split('\n')
        .join('\n     ')}`
    );
  }
}
function assert(cond, msg) {
  if (!cond) {
    throw new Error(msg);
  }
}

// Elements of the query editor whose right edge passes the editor's own or the window's (a row running past the
// right edge), and whether the page scrolls sideways. Elements of no size (hidden) do not count.
async function overflow(page) {
  return page.evaluate(() => {
    const root = document.querySelector('[data-testid="hazewatch-query-editor"]');
    const box = root.getBoundingClientRect();
    const limit = Math.min(box.right, window.innerWidth);
    const offenders = [];
    for (const el of root.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && r.right > limit + 0.5) {
        const name = el.getAttribute('aria-label') ?? (el.textContent ?? '').trim().slice(0, 40);
        offenders.push(`<${el.tagName.toLowerCase()}> "${name}" ends at ${Math.round(r.right)} px`);
      }
    }
    return {
      limit: Math.round(limit),
      editorWidth: Math.round(box.width),
      offenders,
      clipped: root.scrollWidth > root.clientWidth,
      pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
      pageWide: [...document.body.querySelectorAll('*')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 6)
        .map(
          (el) =>
            `<${el.tagName.toLowerCase()} class="${el.className}"> ${Math.round(el.getBoundingClientRect().right)} px`
        ),
    };
  });
}

async function assertNoOverflow(page, where) {
  const o = await overflow(page);
  assert(
    o.offenders.length === 0,
    `${where}: ${o.offenders.length} elements past the right edge (${o.limit} px):\n${o.offenders.slice(0, 6).join('\n')}`
  );
  assert(!o.clipped, `${where}: the editor's content is wider than the editor (${o.editorWidth} px)`);
  assert(!o.pageScrolls, `${where}: the page scrolls sideways at ${VIEWPORT.width} px:\n${o.pageWide.join('\n')}`);
}

// Pixels that differ between two PNG screenshots of the same element, and the rows they are on; decoded by the
// page's own canvas.
async function pixelDiff(page, a, b) {
  return page.evaluate(
    async ([a64, b64]) => {
      const pixels = async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        return { w: img.width, h: img.height, d: ctx.getImageData(0, 0, img.width, img.height).data };
      };
      const [pa, pb] = [await pixels(a64), await pixels(b64)];
      let count = 0;
      let top = Infinity;
      let bottom = -1;
      for (let y = 0; y < Math.min(pa.h, pb.h); y++) {
        for (let x = 0; x < Math.min(pa.w, pb.w); x++) {
          const i = (y * pa.w + x) * 4;
          const j = (y * pb.w + x) * 4;
          const delta =
            Math.abs(pa.d[i] - pb.d[j]) + Math.abs(pa.d[i + 1] - pb.d[j + 1]) + Math.abs(pa.d[i + 2] - pb.d[j + 2]);
          if (delta > 60) {
            count++;
            top = Math.min(top, y);
            bottom = Math.max(bottom, y);
          }
        }
      }
      return { count, top, bottom, height: pa.h };
    },
    [a.toString('base64'), b.toString('base64')]
  );
}

// The screenshots Grafana's catalog shows (plugin.json info.screenshots), written only when asked for, so that a
// test run leaves the source tree as it was.
async function catalogShot(page, name) {
  if (updateScreenshots) {
    // No hover tooltip left over from the last click, and without the harness's own run counter.
    await page.mouse.move(0, 0);
    await page.getByRole('tooltip').waitFor({ state: 'detached' });
    await page.evaluate(() => document.querySelector('[data-testid="runs"]')?.style.setProperty('display', 'none'));
    await page.screenshot({ path: join(imgDir, name), fullPage: true });
    await page.evaluate(() => document.querySelector('[data-testid="runs"]')?.style.removeProperty('display'));
    console.log(`     wrote src/img/${name}`);
  }
}

async function main() {
  const harness = join(here, 'dist', 'harness.js');
  if (!existsSync(harness)) {
    throw new Error(`${harness} is missing: run "npm run test:browser" (it builds the harness first)`);
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(outDir, { recursive: true });
  const server = await startServer(readFileSync(harness));
  const base = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'hazewatch-chromium-'));
  // A fresh profile directory per run (playwright passes it to Chromium as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const pageErrors = [];
  try {
    context.setDefaultTimeout(20000);

    // ---- Config editor ----
    const config = await context.newPage();
    config.on('pageerror', (e) => pageErrors.push(`config: ${e.message}`));
    config.on('console', (m) => m.type() === 'error' && console.log(`     [config console] ${m.text()}`));
    await config.goto(`${base}/?editor=config`);
    await config
      .getByLabel('Data source connection URL')
      .waitFor()
      .catch((e) => {
        throw new Error(`${e.message}\npage errors: ${pageErrors.join('; ')}`);
      });

    await catalogShot(config, 'screenshot-config-editor.png');
    await check('config: connection, auth, TLS, headers and limits are on screen', async () => {
      for (const text of ['Connection', 'Authentication', 'TLS settings', 'HTTP headers', 'Query limits']) {
        assert(await config.getByRole('heading', { name: text, exact: true }).isVisible(), `"${text}" not visible`);
      }
      assert(
        (await config.getByLabel('Data source connection URL').inputValue()) === 'http://prometheus:9090',
        'URL not shown'
      );
      assert(await config.getByText('Bearer token', { exact: true }).isVisible(), 'stored auth method not selected');
    });
    await check('config: stored secrets show as "configured", never their value', async () => {
      const token = config.getByLabel('Bearer token value');
      assert((await token.inputValue()) === 'configured', `bearer token field shows "${await token.inputValue()}"`);
      assert(await token.isDisabled(), 'configured token field is editable');
      const header = config.getByLabel('Header 1 value');
      assert((await header.inputValue()) === 'configured', 'header value not shown as configured');
      assert(
        (await config.getByRole('button', { name: 'Reset' }).count()) === 2,
        'want a Reset button per stored secret'
      );
    });
    await check('config: a bad URL and a bad limit are explained inline', async () => {
      const url = config.getByLabel('Data source connection URL');
      await url.fill('ftp://prometheus:9090');
      assert(await config.getByText('URL must start with http:// or https://').isVisible(), 'URL error not visible');
      await url.fill('http://prometheus:9090');
      await config.getByLabel('Max training rows').fill('lots');
      assert(await config.getByText('Max training rows must be a whole number').isVisible(), 'limit error not visible');
      await config.getByLabel('Query timeout').fill('90s');
    });
    await check('config: a typed password is masked and stays in secureJsonData', async () => {
      await config.getByLabel('Authentication method').click();
      await config.getByText('Basic authentication', { exact: true }).click();
      await config.locator('#basic-auth-user-input').fill('grafana');
      const pw = config.locator('#basic-auth-password-input');
      await pw.fill('hunter2-secret');
      assert((await pw.getAttribute('type')) === 'password', 'password field is not masked');
      const saved = await config.evaluate(() => window.savedOptions);
      assert(saved.secureJsonData.basicAuthPassword === 'hunter2-secret', 'password not in secureJsonData');
      assert(!JSON.stringify(saved.jsonData).includes('hunter2'), 'password leaked into jsonData');
      assert(saved.secureJsonFields.bearerToken === false, 'switching to basic auth did not clear the bearer token');
      const text = await config.evaluate(() => document.body.innerText);
      assert(!text.includes('hunter2'), 'password visible as text on the page');
    });
    await config.screenshot({ path: join(outDir, 'config-editor.png'), fullPage: true });

    // ---- Query editor ----
    const query = await context.newPage();
    query.on('pageerror', (e) => pageErrors.push(`query: ${e.message}`));
    query.on('console', (m) => m.type() === 'error' && console.log(`     [query console] ${m.text()}`));
    await query.goto(`${base}/?editor=query`);
    await query.getByLabel('Feature 1 name').waitFor();

    await check(
      'query: feature rows, entity, mode with explanation, forest defaults and preview are on screen',
      async () => {
        assert((await query.getByLabel('Feature 1 PromQL').inputValue()) === 'purpleair_pm2_5_cf_1', 'feature 1 expr');
        assert((await query.getByLabel('Entity labels').inputValue()) === 'sensor_index', 'entity default');
        assert(await query.getByText('Each sensor against its own history').first().isVisible(), 'series explanation');
        assert((await query.getByLabel('Trees').inputValue()) === '100', 'trees default');
        assert((await query.getByLabel('Seed').inputValue()) === '42', 'seed default');
        assert(await query.getByText('PromQL expression is required').isVisible(), 'empty feature 2 not flagged');
        assert(await query.getByText('1 problem to fix before it runs').isVisible(), 'problem count not shown');
        assert(await query.getByRole('button', { name: 'Add variable' }).isVisible(), 'no variables section');
      }
    );
    await check(
      "query: the PromQL input is set in Grafana's Roboto Mono, loaded, with room for its descenders",
      async () => {
        const font = await query.getByLabel('Feature 1 PromQL').evaluate(async (el) => {
          await document.fonts.ready;
          const cs = getComputedStyle(el);
          const family = cs.fontFamily.split(',')[0].trim().replace(/["']/g, '');
          const face = [...document.fonts].find((f) => f.family.replace(/["']/g, '') === family);
          const size = parseFloat(cs.fontSize);
          // Where the text sits: the line box Chromium centres in the input, against the font's own descent.
          const ctx = document.createElement('canvas').getContext('2d');
          ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
          const m = ctx.measureText('_');
          return {
            family,
            status: face?.status ?? 'not declared',
            size,
            lineHeight: cs.lineHeight === 'normal' ? 1.2 * size : parseFloat(cs.lineHeight),
            contentHeight: el.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom),
            underscoreBottom: m.actualBoundingBoxDescent,
            fontAscent: m.fontBoundingBoxAscent,
            fontDescent: m.fontBoundingBoxDescent,
          };
        });
        assert(font.family === 'Roboto Mono', `PromQL input font is "${font.family}", want Roboto Mono first`);
        assert(font.status === 'loaded', `Roboto Mono is ${font.status}: the input falls back to another font`);
        assert(
          font.lineHeight >= font.fontAscent + font.fontDescent,
          `line height ${font.lineHeight}px is less than the font's ascent+descent ${font.fontAscent + font.fontDescent}px`
        );
        const baseline =
          (font.contentHeight - font.lineHeight) / 2 +
          (font.lineHeight - font.fontAscent - font.fontDescent) / 2 +
          font.fontAscent;
        assert(
          baseline + font.underscoreBottom <= font.contentHeight,
          `the underscore ends ${baseline + font.underscoreBottom}px down, below the input's ${font.contentHeight}px content box`
        );
      }
    );
    await check('query: underscores in the PromQL input are drawn (pixels, not only metrics)', async () => {
      const expr = query.getByLabel('Feature 1 PromQL');
      const before = await expr.inputValue();
      const shot = async (text) => {
        await expr.fill(text);
        await expr.blur();
        // The completion list closes on blur; wait for it so it cannot cover the input.
        await query.getByRole('listbox', { name: 'Feature 1 PromQL suggestions' }).waitFor({ state: 'detached' });
        return expr.screenshot();
      };
      const blank = await shot(' '.repeat(24));
      const lines = await shot('_'.repeat(24));
      await expr.fill(before);
      await expr.blur();
      const diff = await pixelDiff(query, blank, lines);
      // 24 underscores of a 14px monospace font are about 200 px long; a clipped or missing line leaves few.
      assert(
        diff.count >= 120,
        `only ${diff.count} pixels differ between 24 spaces and 24 underscores: underscores hidden`
      );
      assert(
        diff.bottom < diff.height - 2,
        `the underscores touch the input's bottom border (row ${diff.bottom} of ${diff.height})`
      );
    });
    await check(`query: no row runs past the right edge at ${VIEWPORT.width} px (forest settings)`, async () => {
      await assertNoOverflow(query, 'full width');
    });
    await check('query: metric names are completed from the backend resource', async () => {
      const expr = query.getByLabel('Feature 2 PromQL');
      await expr.click();
      await expr.pressSequentially('humid', { delay: 20 });
      const list = query.getByRole('listbox', { name: 'Feature 2 PromQL suggestions' });
      await list.waitFor();
      const options = await list.getByRole('option').allTextContents();
      assert(
        JSON.stringify(options) === JSON.stringify(['purpleair_humidity']),
        `suggestions ${JSON.stringify(options)}`
      );
      assert(
        requests.some((r) => r === '/api/datasources/uid/hazewatch/resources/metrics?match=humid'),
        'no resource request reached the server'
      );
      await query.keyboard.press('Enter');
      assert((await expr.inputValue()) === 'purpleair_humidity', `completion gave "${await expr.inputValue()}"`);
      await query.getByLabel('Feature 2 name').fill('rh');
      await query.getByLabel('Feature 2 name').blur();
      await query.getByText('ready to run').waitFor();
    });
    await check('query: entity label names are completed from the backend resource', async () => {
      const entity = query.getByLabel('Entity labels');
      await entity.click();
      await entity.press('End');
      await entity.pressSequentially(', loc', { delay: 20 });
      const list = query.getByRole('listbox', { name: 'Entity labels suggestions' });
      await list.waitFor();
      const options = await list.getByRole('option').allTextContents();
      assert(JSON.stringify(options) === JSON.stringify(['location_type']), `suggestions ${JSON.stringify(options)}`);
      await query.keyboard.press('Enter');
      assert(
        (await entity.inputValue()) === 'sensor_index, location_type',
        `completion gave "${await entity.inputValue()}"`
      );
      await entity.blur();
      const q = await query.evaluate(() => window.currentQuery);
      assert(JSON.stringify(q.entity) === JSON.stringify(['sensor_index', 'location_type']), JSON.stringify(q.entity));
      // Back to the default, for the checks and screenshots after this one.
      await entity.fill('sensor_index');
      await entity.blur();
    });
    await check('query: fleet mode explains itself and the preview follows', async () => {
      await query.getByRole('radio', { name: 'Fleet' }).click();
      assert(await query.getByText('Sensors against each other at each step').first().isVisible(), 'fleet explanation');
      const preview = await query.getByLabel('Query preview').innerText();
      assert(preview.includes('fleet: every sensor_index compared with all others at the last step only'), preview);
      assert(preview.includes('rh = query_range(purpleair_humidity, step the panel interval)'), preview);
    });
    await check('query: invalid parameters are shown inline and not run', async () => {
      const runsBefore = await query.getByTestId('runs').innerText();
      await query.getByLabel('Contamination', { exact: true }).fill('0.7');
      await query.getByLabel('Contamination', { exact: true }).blur();
      // Fleet mode with calibrated scores: the range is what the scores are calibrated against.
      await query.getByLabel('Calibration range').fill('7days');
      await query.getByLabel('Calibration range').blur();
      assert(await query.getByText('contamination must be in (0, 0.5], got 0.7').isVisible(), 'contamination error');
      assert(await query.getByText(/training range must be a duration/).isVisible(), 'training range error');
      assert(await query.getByText('2 problems to fix before it runs').isVisible(), 'problem count');
      assert((await query.getByTestId('runs').innerText()) === runsBefore, 'an invalid query was run');
    });
    await query.screenshot({ path: join(outDir, 'query-editor.png'), fullPage: true });

    // Fix the problems again for a clean screenshot of a ready query with suggestions open.
    await query.getByLabel('Contamination', { exact: true }).fill('0.01');
    await query.getByLabel('Calibration range').fill('7d');
    await query.getByLabel('Calibration range').blur();
    await check('query: fixing the fields makes the query ready again', async () => {
      await query.getByText('ready to run').waitFor();
      const q = await query.evaluate(() => window.currentQuery);
      assert(
        q.isolationForest.contamination === '0.01' && q.training.range === '7d' && q.mode === 'fleet',
        JSON.stringify(q)
      );
    });
    await query.getByLabel('Feature 1 PromQL').blur();
    await catalogShot(query, 'screenshot-query-editor.png');
    await check('query: the PurpleAir preset hides what it does not read', async () => {
      await query.getByRole('radio', { name: 'PurpleAir QA' }).click();
      await query.getByLabel('Warm-up range').waitFor();
      assert((await query.getByLabel('Feature 1 name').count()) === 0, 'features shown with the preset');
      assert((await query.getByLabel('Trees').count()) === 0, 'forest shown with the preset');
      const q = await query.evaluate(() => window.currentQuery);
      assert(q.preset === 'purpleair' && q.mode === 'fleet', JSON.stringify(q));
      const preview = await query.getByLabel('Query preview').innerText();
      assert(preview.includes('fleet: every sensor at the last step, reasons as labels'), preview);
    });
    await check(`query: no row runs past the right edge at ${VIEWPORT.width} px (PurpleAir preset)`, async () => {
      await assertNoOverflow(query, 'full width, preset');
    });
    await query.screenshot({ path: join(outDir, 'query-editor-purpleair.png'), fullPage: true });
    await catalogShot(query, 'screenshot-query-editor-purpleair.png');
    await query.getByRole('radio', { name: 'Isolation Forest' }).click();
    await query.getByLabel('Feature 1 name').waitFor();

    const expr1 = query.getByLabel('Feature 1 PromQL');
    await expr1.fill('');
    await expr1.pressSequentially('pm2', { delay: 20 });
    await query.getByRole('listbox', { name: 'Feature 1 PromQL suggestions' }).waitFor();
    await query.screenshot({ path: join(outDir, 'query-editor-completion.png'), fullPage: true });

    const narrow = await context.newPage();
    narrow.on('pageerror', (e) => pageErrors.push(`narrow query: ${e.message}`));
    await narrow.goto(`${base}/?editor=query&width=${PANEL_EDITOR_WIDTH}`);
    await narrow.getByLabel('Feature 1 name').waitFor();
    await check(
      `query: no row runs past the right edge of a ${PANEL_EDITOR_WIDTH} px panel editor column`,
      async () => {
        await assertNoOverflow(narrow, `${PANEL_EDITOR_WIDTH} px, forest settings`);
        await narrow.getByRole('radio', { name: 'PurpleAir QA' }).click();
        await narrow.getByLabel('Warm-up range').waitFor();
        await assertNoOverflow(narrow, `${PANEL_EDITOR_WIDTH} px, PurpleAir preset`);
      }
    );
    await narrow.screenshot({ path: join(outDir, 'query-editor-narrow-purpleair.png'), fullPage: true });

    await check('icons load from the Grafana UI package (no broken images)', async () => {
      const icons = requests.filter((r) => r.startsWith('/public/img/icons/'));
      assert(icons.length > 0, 'no icon was requested');
      const trash = await query.locator('button[aria-label^="Remove feature"] svg').count();
      assert(trash >= 2, `want a trash icon per feature row, found ${trash}`);
    });
    await check('no uncaught errors in the pages', async () => {
      assert(pageErrors.length === 0, pageErrors.join('\n'));
    });
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`screenshots: ${outDir}`);
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  console.log(`browser: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
