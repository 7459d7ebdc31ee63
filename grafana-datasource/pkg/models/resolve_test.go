package models

import (
	"strings"
	"testing"
	"time"
)

func mustQuery(t *testing.T, js string) *Query {
	t.Helper()
	q, err := ParseQuery([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestResolveWindows(t *testing.T) {
	cases := []struct {
		name       string
		query      string
		tc         TimeContext
		step       time.Duration
		score      Window
		train      Window
		trainIsSco bool
	}{
		{
			name:  "panel interval, aligned",
			query: `{"features":[{"expr":"up"}]}`,
			tc:    TimeContext{From: t0, To: t0.Add(time.Hour), Interval: time.Minute, MaxDataPoints: 1000},
			step:  time.Minute,
			score: Window{t0, t0.Add(time.Hour), time.Minute}, train: Window{t0, t0.Add(time.Hour), time.Minute}, trainIsSco: true,
		},
		{
			name:  "unaligned from rounds up into the panel, to rounds down",
			query: `{"features":[{"expr":"up"}]}`,
			tc:    TimeContext{From: t0.Add(10 * time.Second), To: t0.Add(time.Hour + 50*time.Second), Interval: time.Minute},
			step:  time.Minute,
			score: Window{t0.Add(time.Minute), t0.Add(time.Hour), time.Minute}, train: Window{t0.Add(time.Minute), t0.Add(time.Hour), time.Minute}, trainIsSco: true,
		},
		{
			name:  "max data points raise the step",
			query: `{"features":[{"expr":"up"}]}`,
			tc:    TimeContext{From: t0, To: t0.Add(10 * time.Hour), Interval: 15 * time.Second, MaxDataPoints: 300},
			step:  2 * time.Minute,
			score: Window{t0, t0.Add(10 * time.Hour), 2 * time.Minute}, train: Window{t0, t0.Add(10 * time.Hour), 2 * time.Minute}, trainIsSco: true,
		},
		{
			name:  "lookback training ends one step before the panel",
			query: `{"training":{"range":"7d","step":"2m"},"features":[{"expr":"up"}]}`,
			tc:    TimeContext{From: t0, To: t0.Add(time.Hour), Interval: 15 * time.Second},
			step:  2 * time.Minute,
			score: Window{t0, t0.Add(time.Hour), 2 * time.Minute},
			train: Window{t0.Add(-7 * 24 * time.Hour), t0.Add(-2 * time.Minute), 2 * time.Minute},
		},
		{
			name:  "fleet at last scores one step",
			query: `{"mode":"fleet","features":[{"expr":"up"}]}`,
			tc:    TimeContext{From: t0, To: t0.Add(time.Hour + 30*time.Second), Interval: time.Minute},
			step:  time.Minute,
			score: Window{t0.Add(time.Hour), t0.Add(time.Hour), time.Minute}, train: Window{t0.Add(time.Hour), t0.Add(time.Hour), time.Minute}, trainIsSco: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Resolve(mustQuery(t, c.query), c.tc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Step != c.step {
				t.Errorf("step = %s, want %s", p.Step, c.step)
			}
			if p.Score != c.score {
				t.Errorf("score = %s, want %s", p.Score, c.score)
			}
			if p.Train != c.train {
				t.Errorf("train = %s, want %s", p.Train, c.train)
			}
			if p.TrainIsScore != c.trainIsSco {
				t.Errorf("trainIsScore = %v", p.TrainIsScore)
			}
		})
	}
}

func TestResolveRaisesStepOverPointLimit(t *testing.T) {
	q := mustQuery(t, `{"training":{"range":"30d","step":"1m"},"features":[{"expr":"up"}]}`)
	p, err := Resolve(q, TimeContext{From: t0, To: t0.Add(time.Hour)}, Limits{MaxPointsPerSeries: 11000})
	if err != nil {
		t.Fatal(err)
	}
	if pts := p.Train.Points(); pts > 11000 {
		t.Errorf("training has %d points, above the limit", pts)
	}
	if p.Step != 236*time.Second {
		t.Errorf("step = %s, want 3m56s (30d / 10999 rounded up to a second)", p.Step)
	}
	if len(p.Notices) != 1 || !strings.Contains(p.Notices[0], "step raised from 1m to 3m56s") {
		t.Errorf("notices = %q", p.Notices)
	}
}

func TestResolveEmptyRange(t *testing.T) {
	_, err := Resolve(mustQuery(t, `{"features":[{"expr":"up"}]}`), TimeContext{From: t0, To: t0}, Limits{})
	if err == nil || !strings.Contains(err.Error(), "time range is empty") {
		t.Errorf("err = %v", err)
	}
}

func TestResolveMacros(t *testing.T) {
	q := mustQuery(t, `{"training":{"step":"2m"},"variables":{"site":"oakland"},"features":[
		{"name":"a","expr":"rate(x{site=\"$site\"}[$__rate_interval])"},
		{"name":"b","expr":"avg_over_time(x{site=\"${site}\"}[$__interval]) / $__interval_ms"},
		{"name":"c","expr":"label_replace(up, \"d\", \"$1\", \"instance\", \"(.*):.*\") and on() vector($__range_s) > [[site]]$unknown"}]}`)
	p, err := Resolve(q, TimeContext{From: t0, To: t0.Add(time.Hour)}, Limits{ScrapeInterval: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`rate(x{site="oakland"}[2m15s])`,
		`avg_over_time(x{site="oakland"}[2m]) / 120000`,
		`label_replace(up, "d", "$1", "instance", "(.*):.*") and on() vector(3600) > oakland$unknown`,
	}
	for i, w := range want {
		if p.Exprs[i] != w {
			t.Errorf("expr %d = %q, want %q", i, p.Exprs[i], w)
		}
	}
}

func TestRateIntervalFloor(t *testing.T) {
	m := Macros(15*time.Second, 15*time.Second, time.Hour, nil)
	if m["__rate_interval"] != "1m" {
		t.Errorf("$__rate_interval = %s, want 1m (4 × scrape interval)", m["__rate_interval"])
	}
}

func TestWindowIndex(t *testing.T) {
	w := Window{t0, t0.Add(10 * time.Minute), time.Minute}
	cases := []struct {
		at   time.Time
		want int
	}{
		{t0, 0}, {t0.Add(10 * time.Minute), 10}, {t0.Add(90 * time.Second), -1}, {t0.Add(-time.Minute), -1}, {t0.Add(11 * time.Minute), -1},
	}
	for _, c := range cases {
		if got := w.Index(c.at); got != c.want {
			t.Errorf("Index(%s) = %d, want %d", c.at, got, c.want)
		}
	}
	if w.Points() != 11 {
		t.Errorf("Points = %d", w.Points())
	}
}
