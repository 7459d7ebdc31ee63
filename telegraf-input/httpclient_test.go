package purpleair

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/testutil"
)

const (
	oneRow = `{"data_time_stamp":1,"fields":["sensor_index","pm2.5_cf_1"],"data":[[1,2]]}`
	// proxyPassword is the password of the test proxies' URLs: like the API key, never in a message.
	proxyPassword = "PROXY-PASS-5678"
)

// loadThroughShim loads conf (the body of an [[inputs.purpleair]] block) as the execd command does,
// with the wall clock replaced so that the plugin polls once and then waits for Stop, and runs Init.
func loadThroughShim(t *testing.T, conf string) (*PurpleAir, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "purpleair.conf")
	if err := os.WriteFile(path, []byte("[[inputs.purpleair]]\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := shim.LoadConfig(&path)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := loaded.Input.(*PurpleAir)
	if !ok {
		t.Fatalf("loaded %T", loaded.Input)
	}
	p.Log = testutil.Logger{}
	clock := &fakeClock{t: time.Unix(0, 0)} // limit 0: one poll, then wait for Stop
	p.now, p.sleep = clock.now, clock.sleep
	return p, p.Init()
}

// pollOnce starts p, waits until its first poll has ended (a metric or an error) and stops it.
func pollOnce(t *testing.T, p *PurpleAir) *testutil.Accumulator {
	t.Helper()
	acc := &testutil.Accumulator{}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for acc.NMetrics() == 0 && len(acc.Errors) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	return acc
}

// noSecrets fails t if an error or a log line carries the API key or the proxy's password.
func noSecrets(t *testing.T, acc *testutil.Accumulator, log *testutil.CaptureLogger) {
	t.Helper()
	var all []string
	for _, e := range acc.Errors {
		all = append(all, e.Error())
	}
	if log != nil {
		for _, m := range log.Messages() {
			all = append(all, m.Text)
		}
	}
	for _, s := range all {
		l := strings.ToLower(s)
		if strings.Contains(l, strings.ToLower(apiKey)) || strings.Contains(l, strings.ToLower(proxyPassword)) {
			t.Errorf("a secret leaked: %s", s)
		}
	}
}

// writeCA writes the certificate of srv (an httptest TLS server) as PEM, for tls_ca.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Against a TLS server with a private certificate authority the poll fails until tls_ca names it.
func TestHTTPTLSCA(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", oneRow)}}
	srv := httptest.NewTLSServer(api)
	defer srv.Close()
	base := fmt.Sprintf("source = \"api\"\n  api_key = %q\n  base_url = %q\n  poll_interval = \"10s\"\n  max_retries = 0\n", apiKey, srv.URL)

	t.Run("without tls_ca", func(t *testing.T) {
		p, err := loadThroughShim(t, base)
		if err != nil {
			t.Fatal(err)
		}
		acc := pollOnce(t, p)
		if acc.NMetrics() != 0 || len(acc.Errors) != 1 || !strings.Contains(acc.Errors[0].Error(), "certificate") {
			t.Errorf("%d metrics, errors %v; want one certificate error", acc.NMetrics(), acc.Errors)
		}
		if len(api.got()) != 0 {
			t.Errorf("the handshake failed, yet %d requests reached the server", len(api.got()))
		}
		noSecrets(t, acc, nil)
	})
	t.Run("with tls_ca", func(t *testing.T) {
		p, err := loadThroughShim(t, base+fmt.Sprintf("  tls_ca = %q\n  tls_min_version = \"TLS12\"\n", writeCA(t, srv)))
		if err != nil {
			t.Fatal(err)
		}
		acc := pollOnce(t, p)
		if v, ok := acc.FloatField("purpleair", "pm2.5_cf_1"); !ok || v != 2 || len(acc.Errors) != 0 {
			t.Errorf("pm2.5_cf_1 = %v, %v; errors %v", v, ok, acc.Errors)
		}
		if reqs := api.got(); len(reqs) != 1 || reqs[0].TLS == nil || reqs[0].Header.Get("X-API-Key") != apiKey {
			t.Errorf("requests %v: want one over TLS with the key", reqs)
		}
	})
}

// http_proxy_url sends the request, with the key and the proxy login, through the proxy: the API's
// host is not even resolvable, so only the proxy can have answered. A proxy that cannot be reached fails
// the poll with a message that names neither the key nor the proxy's password.
func TestHTTPProxyURL(t *testing.T) {
	proxy := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", oneRow)}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	proxyURL := "http://hazewatch:" + proxyPassword + "@" + srv.Listener.Addr().String()
	conf := fmt.Sprintf("source = \"api\"\n  api_key = %q\n  base_url = \"http://purpleair.invalid\"\n  poll_interval = \"10s\"\n  max_retries = 0\n  timeout = \"5s\"\n  http_proxy_url = %q\n", apiKey, proxyURL)
	p, err := loadThroughShim(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	acc := pollOnce(t, p)
	if acc.NMetrics() != 1 || len(acc.Errors) != 0 {
		t.Fatalf("%d metrics, errors %v", acc.NMetrics(), acc.Errors)
	}
	reqs := proxy.got()
	if len(reqs) != 1 {
		t.Fatalf("the proxy saw %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Host != "purpleair.invalid" || !strings.HasPrefix(r.RequestURI, "http://purpleair.invalid/v1/sensors?") {
		t.Errorf("proxied request for %q, host %q", r.RequestURI, r.Host)
	}
	if r.Header.Get("X-API-Key") != apiKey {
		t.Error("the key did not reach the API through the proxy")
	}
	if got, want := r.Header.Get("Proxy-Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("hazewatch:"+proxyPassword)); got != want {
		t.Errorf("Proxy-Authorization %q, want %q", got, want)
	}

	// A proxy that is gone.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://hazewatch:" + proxyPassword + "@" + l.Addr().String()
	l.Close()
	log := &testutil.CaptureLogger{}
	p, err = loadThroughShim(t, strings.Replace(conf, proxyURL, gone, 1))
	if err != nil {
		t.Fatal(err)
	}
	p.Log = log
	acc = pollOnce(t, p)
	if acc.NMetrics() != 0 || len(acc.Errors) != 1 || !strings.Contains(acc.Errors[0].Error(), "proxyconnect") {
		t.Errorf("%d metrics, errors %v; want one proxyconnect error", acc.NMetrics(), acc.Errors)
	}
	noSecrets(t, acc, log)
}

// envChild marks the test binary re-run by TestHTTPUseSystemProxy with a proxy in its environment:
// Go reads HTTP_PROXY once per process, so the environment must be set before the process starts.
const envChild = "HW_TEST_SYSTEM_PROXY_CHILD"

// use_system_proxy = true follows HTTP_PROXY; without it the environment's proxy is not used (the
// request goes direct, to a host that does not resolve).
func TestHTTPUseSystemProxy(t *testing.T) {
	if os.Getenv(envChild) != "" {
		systemProxyChild(t)
		return
	}
	proxy := &fakeAPI{answers: []func(http.ResponseWriter){answer(200, "", oneRow)}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHTTPUseSystemProxy$", "-test.v", "-test.count=1")
	cmd.Env = []string{envChild + "=1", "HTTP_PROXY=" + srv.URL, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if n := len(proxy.got()); n != 1 {
		t.Errorf("the environment's proxy saw %d requests, want 1 (the use_system_proxy = true one)\n%s", n, out)
	}
}

func systemProxyChild(t *testing.T) {
	conf := fmt.Sprintf("source = \"api\"\n  api_key = %q\n  base_url = \"http://purpleair.invalid\"\n  poll_interval = \"10s\"\n  max_retries = 0\n  timeout = \"5s\"\n", apiKey)
	p, err := loadThroughShim(t, conf+"  use_system_proxy = true\n")
	if err != nil {
		t.Fatal(err)
	}
	if acc := pollOnce(t, p); acc.NMetrics() != 1 {
		t.Errorf("use_system_proxy = true: %d metrics, errors %v", acc.NMetrics(), acc.Errors)
	}
	p, err = loadThroughShim(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	if acc := pollOnce(t, p); acc.NMetrics() != 0 || len(acc.Errors) != 1 {
		t.Errorf("use_system_proxy = false: %d metrics, errors %v; want the direct request to fail", acc.NMetrics(), acc.Errors)
	}
}

// The transport options reach the client, and response_timeout bounds the wait for the headers.
func TestHTTPTransportOptions(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	defer close(release)
	conf := fmt.Sprintf(`source = "api"
  api_key = %q
  base_url = %q
  poll_interval = "10s"
  max_retries = 0
  timeout = "7s"
  idle_conn_timeout = "42s"
  max_idle_conn = 3
  max_idle_conn_per_host = 2
  response_timeout = "200ms"
`, apiKey, slow.URL)
	p, err := loadThroughShim(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	hc := p.client.HTTP
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", hc.Transport)
	}
	if hc.Timeout != 7*time.Second || tr.IdleConnTimeout != 42*time.Second || tr.MaxIdleConns != 3 ||
		tr.MaxIdleConnsPerHost != 2 || tr.ResponseHeaderTimeout != 200*time.Millisecond || tr.Proxy != nil {
		t.Errorf("client timeout %s, transport %+v", hc.Timeout, tr)
	}
	began := time.Now()
	acc := pollOnce(t, p)
	if len(acc.Errors) != 1 || !strings.Contains(acc.Errors[0].Error(), "timeout awaiting response headers") {
		t.Errorf("errors %v, want the response timeout", acc.Errors)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the poll took %s: response_timeout did not apply", d)
	}
}

// tls_min_version and tls_cipher_suites apply on their own too (Telegraf's TLS configuration alone
// would ignore them without another TLS option).
func TestHTTPLoneTLSOptions(t *testing.T) {
	p, err := loadThroughShim(t, fmt.Sprintf("source = \"api\"\n  api_key = %q\n  tls_min_version = \"TLS13\"\n  tls_cipher_suites = [\"TLS_AES_128_GCM_SHA256\"]\n", apiKey))
	if err != nil {
		t.Fatal(err)
	}
	c := p.client.HTTP.Transport.(*http.Transport).TLSClientConfig
	if c == nil || c.MinVersion != tls.VersionTLS13 || len(c.CipherSuites) != 1 || c.CipherSuites[0] != tls.TLS_AES_128_GCM_SHA256 {
		t.Errorf("TLS configuration %+v", c)
	}
}

// The HTTP options are checked at Init, with errors that name the option and never a secret.
func TestHTTPOptionsInit(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := func(p *PurpleAir) { p.Source = "api"; p.APIKey = config.NewSecret([]byte(apiKey)) }
	tests := []struct {
		name      string
		configure func(p *PurpleAir)
		wantErr   string
	}{
		{"defaults", func(*PurpleAir) {}, ""},
		{"proxy", func(p *PurpleAir) { p.HTTPProxyURL = "socks5://u:" + proxyPassword + "@127.0.0.1:1080" }, ""},
		{"client_id", func(p *PurpleAir) { p.ClientID = "x" }, "client_id is not supported"},
		{"scopes", func(p *PurpleAir) { p.Scopes = []string{"x"} }, "scopes is not supported"},
		{"cookie_auth_url", func(p *PurpleAir) { p.CookieAuthConfig.URL = "https://x/login" }, "cookie_auth_url is not supported"},
		{"cookie_auth_password", func(p *PurpleAir) { p.CookieAuthConfig.Password = "x" }, "cookie_auth_password is not supported"},
		{"timeout", func(p *PurpleAir) { p.Timeout = 0 }, "timeout must be positive"},
		{"response_timeout", func(p *PurpleAir) { p.ResponseHeaderTimeout = config.Duration(-time.Second) }, "response_timeout must not be negative"},
		{"idle_conn_timeout", func(p *PurpleAir) { p.IdleConnTimeout = config.Duration(-time.Second) }, "idle_conn_timeout must not be negative"},
		{"max_idle_conn", func(p *PurpleAir) { p.MaxIdleConns = -1 }, "max_idle_conn must be 0 or more"},
		{"max_idle_conn_per_host", func(p *PurpleAir) { p.MaxIdleConnsPerHost = -1 }, "max_idle_conn_per_host must be 0 or more"},
		{"proxy scheme", func(p *PurpleAir) { p.HTTPProxyURL = "ftp://u:" + proxyPassword + "@proxy:21" }, `http_proxy_url must be an http, https, socks5 or socks5h URL, got "ftp://u:xxxxx@proxy:21"`},
		{"proxy without scheme", func(p *PurpleAir) { p.HTTPProxyURL = "proxy:3128" }, "http_proxy_url must be an http, https, socks5 or socks5h URL"},
		{"proxy not a URL", func(p *PurpleAir) { p.HTTPProxyURL = "http://u:" + proxyPassword + "@[::1" }, "http_proxy_url is not a URL"},
		{"proxy and system proxy", func(p *PurpleAir) { p.HTTPProxyURL = "http://proxy:3128"; p.UseSystemProxy = true }, "http_proxy_url and use_system_proxy = true exclude each other"},
		{"tls_cert without tls_key", func(p *PurpleAir) { p.TLSCert = garbage }, "tls_cert and tls_key go together"},
		{"tls_ca missing", func(p *PurpleAir) { p.TLSCA = filepath.Join(dir, "nope.pem") }, "TLS options: could not read certificate"},
		{"tls_ca garbage", func(p *PurpleAir) { p.TLSCA = garbage }, "TLS options: could not parse any PEM certificates"},
		{"tls_cert garbage, with tls_key_pwd", func(p *PurpleAir) { p.TLSCert, p.TLSKey, p.TLSKeyPwd = garbage, garbage, proxyPassword }, "TLS options: failed to decode private key"},
		{"tls_min_version", func(p *PurpleAir) { p.TLSMinVersion = "TLS99" }, `tls_min_version: unsupported version "TLS99"`},
		{"tls_cipher_suites", func(p *PurpleAir) { p.TLSCipherSuites = []string{"TLS_NONE"} }, `tls_cipher_suites: `},
		{"tls_renegotiation_method", func(p *PurpleAir) { p.RenegotiationMethod = "always" }, `TLS options: unrecognized renegotiation method "always"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			api(p)
			tt.configure(p)
			err := p.Init()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Init() = %v, want %q", err, tt.wantErr)
			}
			if l := strings.ToLower(err.Error()); strings.Contains(l, strings.ToLower(apiKey)) || strings.Contains(l, strings.ToLower(proxyPassword)) {
				t.Errorf("a secret leaked: %v", err)
			}
		})
	}
}

// Each OAuth2 and cookie option of Telegraf's HTTP client, as written in a configuration file, stops
// the plugin at start with an error naming it.
func TestHTTPOptionsRefused(t *testing.T) {
	values := map[string]string{
		"scopes":              `["read"]`,
		"cookie_auth_headers": `{ X-Login = "1" }`,
		"cookie_auth_renewal": `"5m"`,
	}
	for _, name := range refusedHTTPOptions {
		t.Run(name, func(t *testing.T) {
			v, ok := values[name]
			if !ok {
				v = `"x"`
			}
			_, err := loadThroughShim(t, fmt.Sprintf("source = \"api\"\n  api_key = %q\n  %s = %s\n", apiKey, name, v))
			if err == nil || !strings.HasPrefix(err.Error(), name+" is not supported") {
				t.Errorf("Init() = %v, want %q refused", err, name)
			}
		})
	}
}
