package models

import (
	"strings"
	"testing"
	"time"
)

func TestLoadSettings(t *testing.T) {
	s, err := LoadSettings(Instance{
		URL:                     "http://prom:9090/",
		JSONData:                []byte(`{"authType":"bearer","queryTimeout":"2m","maxSeries":10,"cacheTTL":"1h","cacheMaxMiB":8}`),
		DecryptedSecureJSONData: map[string]string{"bearerToken": "s3cr3t-token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "http://prom:9090" || s.QueryTimeout != 2*time.Minute || s.MaxSeries != 10 || s.CacheTTL != time.Hour ||
		s.CacheMaxBytes != 8<<20 || s.MaxPointsPerSeries != DefaultMaxPointsPerSeries || s.BearerToken != "s3cr3t-token" {
		t.Errorf("settings = %+v", s)
	}
	if strings.Contains(s.String(), "s3cr3t") {
		t.Errorf("String() leaks the token: %s", s)
	}
	if s.MemoryBudget != DefaultMemoryBudgetMiB<<20 {
		t.Errorf("memory budget %d bytes, want the default %d MiB", s.MemoryBudget, DefaultMemoryBudgetMiB)
	}
	s, err = LoadSettings(Instance{URL: "http://prom:9090", JSONData: []byte(`{"memoryBudgetMiB":64}`)})
	if err != nil || s.MemoryBudget != 64<<20 {
		t.Errorf("memoryBudgetMiB 64: %v, %d bytes", err, s.MemoryBudget)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	cases := []struct {
		name string
		ds   Instance
		want string
	}{
		{"no url", Instance{}, "URL is empty"},
		{"bad scheme", Instance{URL: "ftp://x"}, "not an http(s) URL"},
		{"credential in bad url is redacted", Instance{URL: "htp://bob:hunter22@x"}, "redacted"},
		{"bad json", Instance{URL: "http://x", JSONData: []byte(`{`)}, "invalid jsonData"},
		{"bad timeout", Instance{URL: "http://x", JSONData: []byte(`{"queryTimeout":"soon"}`)}, "queryTimeout"},
		{"negative limit", Instance{URL: "http://x", JSONData: []byte(`{"maxSeries":-1}`)}, "maxSeries must not be negative"},
		{"negative budget", Instance{URL: "http://x", JSONData: []byte(`{"memoryBudgetMiB":-1}`)}, "memoryBudgetMiB must not be negative"},
		{"bearer without token", Instance{URL: "http://x", JSONData: []byte(`{"authType":"bearer"}`)}, "bearerToken is empty"},
		{"unknown auth", Instance{URL: "http://x", JSONData: []byte(`{"authType":"oauth"}`)}, "authType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadSettings(c.ds)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"http://bob:pw@prom:9090/x?token=abc": "http://redacted@prom:9090/x?redacted",
		"https://prom":                        "https://prom",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadSettingsBasicAuth(t *testing.T) {
	secure := map[string]string{"basicAuthPassword": "hunter22"}
	for _, c := range []struct {
		name string
		ds   Instance
	}{
		{"authType alone", Instance{URL: "http://x", JSONData: []byte(`{"authType":"basic"}`), BasicAuthUser: "bob", DecryptedSecureJSONData: secure}},
		{"basicAuth flag alone", Instance{URL: "http://x", BasicAuthEnabled: true, BasicAuthUser: "bob", DecryptedSecureJSONData: secure}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := LoadSettings(c.ds)
			if err != nil {
				t.Fatal(err)
			}
			if s.AuthType != AuthBasic || s.BasicAuthUser != "bob" || s.BasicAuthPassword != "hunter22" {
				t.Errorf("settings = %+v", s)
			}
			if strings.Contains(s.String(), "hunter22") {
				t.Errorf("String() leaks the password: %s", s)
			}
		})
	}
	s, err := LoadSettings(Instance{URL: "http://x", JSONData: []byte(`{"authType":"none"}`), BasicAuthUser: "bob", DecryptedSecureJSONData: secure})
	if err != nil || s.BasicAuthUser != "" || s.BasicAuthPassword != "" {
		t.Errorf("authType none keeps basic credentials: %+v, %v", s, err)
	}
	_, err = LoadSettings(Instance{URL: "http://x", JSONData: []byte(`{"authType":"basic"}`), DecryptedSecureJSONData: secure})
	if err == nil || !strings.Contains(err.Error(), "basicAuthUser is empty") || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("basic without a user: %v", err)
	}
}
