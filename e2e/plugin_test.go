package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// pluginHost hosts a backend plugin binary the way Grafana does: hashicorp/go-plugin with the SDK's
// handshake (magic cookie, protocol version 2), gRPC only, then the plugin's services as gRPC clients.
type pluginHost struct {
	client *goplugin.Client
	diag   grpcplugin.DiagnosticsClient
	data   grpcplugin.DataClient
	pctx   *pluginv2.PluginContext
}

// startPlugin launches bin and dispenses its diagnostics and data services; settings are the
// datasource instance's as Grafana would send them (URL, jsonData).
func startPlugin(t testing.TB, bin, logPath string, settings *pluginv2.DataSourceInstanceSettings) *pluginHost {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cmd := exec.Command(bin)
	// Grafana passes the plugin little environment; nothing of the developer's shell is needed.
	cmd.Env = minimalEnv(nil)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
			},
		},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "gpx", Output: logFile, Level: hclog.Info}),
		Stderr:           logFile,
		StartTimeout:     60 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("go-plugin handshake with %s: %v", filepath.Base(bin), err)
	}
	if v := client.NegotiatedVersion(); v != grpcplugin.ProtocolVersion {
		t.Fatalf("negotiated plugin protocol %d, want %d", v, grpcplugin.ProtocolVersion)
	}
	h := &pluginHost{client: client, pctx: &pluginv2.PluginContext{
		OrgId:                      1,
		PluginId:                   "hazewatch-anomaly-datasource",
		DataSourceInstanceSettings: settings,
	}}
	raw, err := rpc.Dispense("diagnostics")
	if err != nil {
		t.Fatalf("dispense diagnostics: %v", err)
	}
	h.diag = raw.(grpcplugin.DiagnosticsClient)
	if raw, err = rpc.Dispense("data"); err != nil {
		t.Fatalf("dispense data: %v", err)
	}
	h.data = raw.(grpcplugin.DataClient)
	return h
}

// health runs CheckHealth.
func (h *pluginHost) health(ctx context.Context) (*pluginv2.CheckHealthResponse, error) {
	return h.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: h.pctx})
}

// grafanaQuery is one query as Grafana sends it to a backend datasource.
type grafanaQuery struct {
	RefID         string
	JSON          []byte
	From, To      time.Time
	Interval      time.Duration
	MaxDataPoints int64
}

// queryResult is one RefID's answer.
type queryResult struct {
	Frames data.Frames
	Error  string
	Status int32
}

// query runs QueryData with the queries and decodes each RefID's frames.
func (h *pluginHost) query(ctx context.Context, qs ...grafanaQuery) (map[string]queryResult, error) {
	req := &pluginv2.QueryDataRequest{PluginContext: h.pctx}
	for _, q := range qs {
		req.Queries = append(req.Queries, &pluginv2.DataQuery{
			RefId:         q.RefID,
			Json:          q.JSON,
			TimeRange:     &pluginv2.TimeRange{FromEpochMS: q.From.UnixMilli(), ToEpochMS: q.To.UnixMilli()},
			IntervalMS:    q.Interval.Milliseconds(),
			MaxDataPoints: q.MaxDataPoints,
		})
	}
	resp, err := h.data.QueryData(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]queryResult{}
	for ref, r := range resp.Responses {
		qr := queryResult{Error: r.Error, Status: r.Status}
		if len(r.Frames) > 0 {
			if qr.Frames, err = data.UnmarshalArrowFrames(r.Frames); err != nil {
				return nil, fmt.Errorf("%s: frames: %w", ref, err)
			}
		}
		out[ref] = qr
	}
	return out, nil
}
