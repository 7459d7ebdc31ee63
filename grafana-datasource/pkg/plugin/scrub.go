package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// secrets is every credential of one datasource instance, in each form a
// message can carry it. Upstreams and proxies echo what they were sent —
// the Authorization header (basic auth base64-encoded), custom headers, the
// URL — into errors, warnings, infos, build info and label values, so every
// string that leaves the plugin passes through scrub: query errors and frame
// notices (scrubResponse), health results, resource answers (sendJSON) and
// log lines (scrubLogger).
type secrets []string

// minSecretLen keeps one- and two-character values (a PIN-like test
// password) from turning every message into a field of redactions.
const minSecretLen = 3

// newSecrets collects the credentials of ds: every decrypted secureJsonData
// value (bearer token, basic auth password, custom header values, TLS keys),
// the Basic header value, and a password in the URL. It is built from the
// instance itself, before the settings are validated, so that a settings
// error cannot echo one either.
func newSecrets(ds backend.DataSourceInstanceSettings) secrets {
	var s secrets
	add := func(v string) {
		if len(v) < minSecretLen {
			return
		}
		s = append(s, v)
		// A proxy may echo a request URL or form, where the value is escaped.
		for _, esc := range []string{url.QueryEscape(v), url.PathEscape(v)} {
			if esc != v {
				s = append(s, esc)
			}
		}
	}
	for _, v := range ds.DecryptedSecureJSONData {
		add(v)
	}
	if pw := ds.DecryptedSecureJSONData["basicAuthPassword"]; pw != "" {
		add(basicAuthValue(ds.BasicAuthUser, pw))
	}
	if user, pw, ok := urlCredentials(strings.TrimSpace(ds.URL)); ok {
		add(pw)
		add(basicAuthValue(user, pw))
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

// scrub replaces every secret in msg with <redacted>.
func (s secrets) scrub(msg string) string {
	for _, v := range s {
		if strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "<redacted>")
		}
	}
	return msg
}

// scrubError is err with its message scrubbed (nil stays nil). The type is
// lost, which is why it is applied only where the error leaves the plugin.
func (s secrets) scrubError(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); s.scrub(msg) != msg {
		return errors.New(s.scrub(msg))
	}
	return err
}

// scrubResponse scrubs a query's error and everything its frames say in
// words: notices, the executed query string, names and labels.
func (s secrets) scrubResponse(r *backend.DataResponse) {
	if len(s) == 0 {
		return
	}
	r.Error = s.scrubError(r.Error)
	for _, f := range r.Frames {
		f.Name = s.scrub(f.Name)
		if f.Meta != nil {
			f.Meta.ExecutedQueryString = s.scrub(f.Meta.ExecutedQueryString)
			for i := range f.Meta.Notices {
				f.Meta.Notices[i].Text = s.scrub(f.Meta.Notices[i].Text)
			}
		}
		for _, fld := range f.Fields {
			fld.Name = s.scrub(fld.Name)
			for k, v := range fld.Labels {
				fld.Labels[k] = s.scrub(v)
			}
		}
	}
}

// scrubHealth scrubs a health result's message and details.
func (s secrets) scrubHealth(r *backend.CheckHealthResult) {
	r.Message = s.scrub(r.Message)
	if len(r.JSONDetails) > 0 {
		var details map[string]string
		if json.Unmarshal(r.JSONDetails, &details) == nil {
			for k, v := range details {
				details[k] = s.scrub(v)
			}
			r.JSONDetails, _ = json.Marshal(details)
		}
	}
}

// scrubJSONValue scrubs the strings of a resource answer before it is
// encoded (encoding escapes characters, and a secret containing one would no
// longer match once encoded).
func (s secrets) scrubJSONValue(v any) any {
	switch v := v.(type) {
	case string:
		return s.scrub(v)
	case []string:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = s.scrub(x)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[k] = s.scrub(x)
		}
		return out
	}
	return v
}

// scrubLogger scrubs a log line's message and every value that prints as
// text (strings, errors, Stringers such as the settings).
type scrubLogger struct {
	log.Logger
	s secrets
}

func newScrubLogger(l log.Logger, s secrets) log.Logger {
	if len(s) == 0 {
		return l
	}
	return scrubLogger{Logger: l, s: s}
}

func (l scrubLogger) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = l.s.scrub(v)
		case error:
			out[i] = l.s.scrub(v.Error())
		case fmt.Stringer:
			out[i] = l.s.scrub(v.String())
		default:
			// Anything else prints through fmt; scrub what it would print.
			if str := fmt.Sprint(a); l.s.scrub(str) != str {
				out[i] = l.s.scrub(str)
			} else {
				out[i] = a
			}
		}
	}
	return out
}

func (l scrubLogger) Debug(msg string, args ...any) { l.Logger.Debug(l.s.scrub(msg), l.args(args)...) }
func (l scrubLogger) Info(msg string, args ...any)  { l.Logger.Info(l.s.scrub(msg), l.args(args)...) }
func (l scrubLogger) Warn(msg string, args ...any)  { l.Logger.Warn(l.s.scrub(msg), l.args(args)...) }
func (l scrubLogger) Error(msg string, args ...any) { l.Logger.Error(l.s.scrub(msg), l.args(args)...) }
func (l scrubLogger) With(args ...any) log.Logger {
	return scrubLogger{Logger: l.Logger.With(l.args(args)...), s: l.s}
}
func (l scrubLogger) FromContext(ctx context.Context) log.Logger {
	return scrubLogger{Logger: l.Logger.FromContext(ctx), s: l.s}
}
