// Bundles browser-test/harness.tsx with everything in it (React, @grafana/*): unlike the plugin build, nothing is
// external, because no Grafana is there to provide those modules.
import path from 'path';
import type { Configuration } from 'webpack';

const root = path.resolve(__dirname, '..');

const config: Configuration = {
  mode: 'development',
  devtool: false,
  context: root,
  entry: { harness: './browser-test/harness.tsx' },
  output: { path: path.join(root, 'browser-test', 'dist'), filename: '[name].js', clean: true },
  cache: { type: 'filesystem', cacheDirectory: path.join(root, 'node_modules', '.cache', 'harness-webpack') },
  module: {
    // @grafana/ui's published ESM index re-exports a few names its modules no longer define (deprecated theme
    // helpers). Grafana never trips on them because it provides @grafana/ui itself; a bundle of it must not fail.
    parser: { javascript: { reexportExportsPresence: false, importExportsPresence: 'warn' } },
    rules: [
      {
        exclude: /node_modules/,
        test: /\.[tj]sx?$/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              target: 'es2020',
              parser: { syntax: 'typescript', tsx: true },
              transform: { react: { runtime: 'automatic' } },
            },
          },
        },
      },
      // Same reason: its .mjs files import CommonJS modules by extension-less paths (react-use/lib/useMeasure) and
      // expect their __esModule default export; bundle them with CommonJS interop like Grafana's own build does.
      { test: /\.m?js$/, include: /node_modules/, type: 'javascript/auto', resolve: { fullySpecified: false } },
      { test: /\.css$/, use: ['style-loader', 'css-loader'] },
      { test: /\.(png|jpe?g|gif|svg|woff2?|eot|ttf|otf)$/, type: 'asset/resource' },
    ],
  },
  resolve: {
    extensions: ['.js', '.jsx', '.ts', '.tsx'],
    modules: [path.join(root, 'src'), 'node_modules'],
    fallback: { fs: false, path: false, crypto: false },
  },
  performance: { hints: false },
};

export default config;
