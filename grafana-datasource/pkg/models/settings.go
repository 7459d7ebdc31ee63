package models

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Defaults for the datasource settings. They are sized so that one query of the
// reference workload (100 sensors × 7 days at a 2-minute step × 3 features)
// fits with room to spare, while a runaway query (every series of a big
// Mimir tenant) is refused before it exhausts the plugin's memory.
const (
	DefaultQueryTimeout       = 60 * time.Second
	DefaultMaxSeries          = 30000   // the reference fleet snapshot had 25,552 sensors
	DefaultMaxPointsPerSeries = 11000   // Prometheus refuses query_range above 11,000 points per series
	DefaultMaxTrainingRows    = 2000000 // rows (entity × step) a forest is fitted from, per query
	DefaultScrapeInterval     = 15 * time.Second
	DefaultCacheTTL           = 15 * time.Minute
	DefaultCacheMaxMiB        = 256
	// DefaultMemoryBudgetMiB bounds what the queries of one datasource
	// instance hold together with its cached forests (fetched points,
	// feature matrix, imputation, forests; see engine/budget.go).
	// The reference workload estimates at ~175 MiB; one query of 10,000
	// trees on every row of 30 sensors' two days reached 9.6 GB before
	// there was a budget.
	DefaultMemoryBudgetMiB = 1024
)

// Authentication kinds (jsonData.authType). Basic auth and TLS use Grafana's
// standard keys (basicAuth, basicAuthUser, secureJsonData.basicAuthPassword,
// tlsAuth, tlsAuthWithCACert, tlsSkipVerify, secureJsonData.tlsCACert …) and
// custom headers httpHeaderNameN / secureJsonData.httpHeaderValueN, all handled
// by the SDK's HTTP client options, which the plugin derives from the instance
// itself (this package does not depend on the SDK, so that the query engine
// built on it does not either).
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// settingsJSON is the jsonData document the ConfigEditor writes.
type settingsJSON struct {
	AuthType           string `json:"authType"`
	QueryTimeout       string `json:"queryTimeout"` // Prometheus duration, e.g. "60s"
	MaxSeries          int    `json:"maxSeries"`
	MaxPointsPerSeries int    `json:"maxPointsPerSeries"`
	MaxTrainingRows    int    `json:"maxTrainingRows"`
	ScrapeInterval     string `json:"scrapeInterval"` // used for $__rate_interval
	CacheTTL           string `json:"cacheTTL"`
	CacheMaxMiB        int    `json:"cacheMaxMiB"`
	MemoryBudgetMiB    int    `json:"memoryBudgetMiB"`
	Gzip               bool   `json:"gzip"` // ask upstream for gzip (slow links); default off
}

// Settings are the typed datasource settings: jsonData merged with the
// decrypted secureJsonData. Secrets are kept out of String and JSON output.
type Settings struct {
	URL                string
	AuthType           string
	QueryTimeout       time.Duration
	MaxSeries          int
	MaxPointsPerSeries int
	MaxTrainingRows    int
	ScrapeInterval     time.Duration
	CacheTTL           time.Duration
	CacheMaxBytes      int64
	// MemoryBudget is the most the instance's queries and cached forests
	// may hold, in bytes, as the engine estimates it; a query over it alone
	// is refused, naming the option to lower, and concurrent ones share it.
	MemoryBudget int64
	// Gzip asks the upstream for compressed answers. Off by default:
	// compressing a large query_range costs the upstream far more CPU time
	// than the bytes save on a LAN.
	Gzip bool

	// BearerToken comes from secureJsonData.bearerToken (authType "bearer").
	BearerToken string `json:"-"`
	// BasicAuthUser and BasicAuthPassword are the top-level basicAuthUser
	// and secureJsonData.basicAuthPassword (authType "basic"). The plugin
	// sends them itself when authType is basic: the SDK's HTTP client
	// options only do so when the top-level basicAuth flag is also on, and
	// a provisioned datasource may set authType alone.
	BasicAuthUser     string `json:"-"`
	BasicAuthPassword string `json:"-"`
}

// Instance is what LoadSettings reads of a datasource instance: the fields of
// the same names of the SDK's backend.DataSourceInstanceSettings.
type Instance struct {
	URL                     string
	JSONData                []byte
	BasicAuthEnabled        bool
	BasicAuthUser           string
	DecryptedSecureJSONData map[string]string
}

// String describes the settings without any credential, for logs.
func (s *Settings) String() string {
	return fmt.Sprintf("url=%s auth=%s timeout=%s maxSeries=%d maxPoints=%d maxTrainingRows=%d memoryBudgetMiB=%d",
		RedactURL(s.URL), s.AuthType, s.QueryTimeout, s.MaxSeries, s.MaxPointsPerSeries, s.MaxTrainingRows, s.MemoryBudget>>20)
}

// LoadSettings decodes a datasource instance's settings. Errors name the
// offending key and never contain a secret value.
func LoadSettings(ds Instance) (*Settings, error) {
	var raw settingsJSON
	if len(ds.JSONData) > 0 {
		if err := json.Unmarshal(ds.JSONData, &raw); err != nil {
			return nil, fmt.Errorf("datasource settings: invalid jsonData: %v", err)
		}
	}
	s := &Settings{
		URL:                strings.TrimRight(strings.TrimSpace(ds.URL), "/"),
		AuthType:           raw.AuthType,
		MaxSeries:          orDefault(raw.MaxSeries, DefaultMaxSeries),
		MaxPointsPerSeries: orDefault(raw.MaxPointsPerSeries, DefaultMaxPointsPerSeries),
		MaxTrainingRows:    orDefault(raw.MaxTrainingRows, DefaultMaxTrainingRows),
		CacheMaxBytes:      int64(orDefault(raw.CacheMaxMiB, DefaultCacheMaxMiB)) << 20,
		MemoryBudget:       int64(orDefault(raw.MemoryBudgetMiB, DefaultMemoryBudgetMiB)) << 20,
		Gzip:               raw.Gzip,
	}
	var err error
	if s.QueryTimeout, err = durationSetting("queryTimeout", raw.QueryTimeout, DefaultQueryTimeout); err != nil {
		return nil, err
	}
	if s.ScrapeInterval, err = durationSetting("scrapeInterval", raw.ScrapeInterval, DefaultScrapeInterval); err != nil {
		return nil, err
	}
	if s.CacheTTL, err = durationSetting("cacheTTL", raw.CacheTTL, DefaultCacheTTL); err != nil {
		return nil, err
	}
	for name, v := range map[string]int{"maxSeries": raw.MaxSeries, "maxPointsPerSeries": raw.MaxPointsPerSeries,
		"maxTrainingRows": raw.MaxTrainingRows, "cacheMaxMiB": raw.CacheMaxMiB, "memoryBudgetMiB": raw.MemoryBudgetMiB} {
		if v < 0 {
			return nil, fmt.Errorf("datasource settings: %s must not be negative, got %d", name, v)
		}
	}

	if s.URL == "" {
		return nil, fmt.Errorf("datasource settings: the upstream URL is empty; set it to the Prometheus-compatible API base, e.g. http://prometheus:9090")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("datasource settings: upstream URL %q is not an http(s) URL with a host", RedactURL(s.URL))
	}

	switch s.AuthType {
	case "":
		s.AuthType = AuthNone
		if ds.BasicAuthEnabled {
			s.AuthType = AuthBasic
		}
	case AuthNone, AuthBasic:
	case AuthBearer:
		s.BearerToken = ds.DecryptedSecureJSONData["bearerToken"]
		if s.BearerToken == "" {
			return nil, fmt.Errorf("datasource settings: authType is bearer but secureJsonData.bearerToken is empty")
		}
	default:
		return nil, fmt.Errorf("datasource settings: authType %q is unknown (want none, basic or bearer)", s.AuthType)
	}
	if s.AuthType == AuthBasic {
		s.BasicAuthUser = ds.BasicAuthUser
		s.BasicAuthPassword = ds.DecryptedSecureJSONData["basicAuthPassword"]
		if s.BasicAuthUser == "" {
			return nil, fmt.Errorf("datasource settings: authType is basic but basicAuthUser is empty")
		}
	}
	return s, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func durationSetting(name, v string, def time.Duration) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return def, nil
	}
	d, err := model.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("datasource settings: %s %q is not a positive duration like 30s or 5m", name, v)
	}
	return time.Duration(d), nil
}

// RedactURL removes user info (user:password@) and the query string from a URL
// so that it can appear in logs and error messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparseable: keep only what precedes a possible credential.
		if i := strings.Index(raw, "@"); i >= 0 {
			return "<redacted>@" + raw[i+1:]
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}
