package ctxtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		d       time.Duration
		want    error
		atLeast time.Duration
	}{
		{"waits d", context.Background(), 20 * time.Millisecond, nil, 20 * time.Millisecond},
		{"no wait for d ≤ 0", context.Background(), -time.Second, nil, 0},
		{"cancelled before", cancelled, time.Hour, context.Canceled, 0},
		{"cancelled, d ≤ 0", cancelled, 0, context.Canceled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := Sleep(tt.ctx, tt.d)
			took := time.Since(start)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Sleep(%v) = %v, want %v", tt.d, err, tt.want)
			}
			if took < tt.atLeast || took > tt.atLeast+10*time.Second {
				t.Errorf("Sleep(%v) took %v", tt.d, took)
			}
		})
	}
}

func TestSleepEndsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep = %v, want %v", err, context.DeadlineExceeded)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Sleep outlived its context by %v", took)
	}
}
