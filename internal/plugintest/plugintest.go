// Package plugintest hosts the datasource's backend binary (gpx_hazewatch_anomaly) the way Grafana
// does: hashicorp/go-plugin with the plugin SDK's handshake (magic cookie, protocol version 2), gRPC
// only, then the plugin's diagnostics, data and resource services as gRPC clients. Tests that need the
// real plugin protocol (the binary's own test in grafana-datasource/pkg, the end-to-end stacks in e2e)
// start it here; tests of the datasource's logic call the Go API in process instead.
package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// PluginID is the datasource's plugin id (grafana-datasource/src/plugin.json).
const PluginID = "hazewatch-anomaly-datasource"

// Host is a running plugin process and its services. Context is what each call sends as the plugin
// context (the datasource instance's settings); a test may call the services directly with it.
type Host struct {
	Client      *goplugin.Client
	Diagnostics grpcplugin.DiagnosticsClient
	Data        grpcplugin.DataClient
	Resource    grpcplugin.ResourceClient
	Context     *pluginv2.PluginContext
}

// Build builds the datasource binary as `mage binaries` and the SDK's build do (static, no cgo) into
// a temporary directory and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	repotest.GoBuild(t, dir, map[string]string{"gpx_hazewatch_anomaly": "./grafana-datasource/pkg"})
	return filepath.Join(dir, "gpx_hazewatch_anomaly")
}

// Start launches bin and dispenses its services; settings are the datasource instance's as Grafana
// would send them (URL, jsonData). The plugin's log and go-plugin's go to logPath (empty: a temporary
// file). The process is killed at test cleanup.
func Start(t testing.TB, bin, logPath string, settings *pluginv2.DataSourceInstanceSettings) *Host {
	t.Helper()
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), "plugin.log")
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cmd := exec.Command(bin)
	// Grafana passes the plugin little environment; nothing of the developer's shell is needed.
	cmd.Env = proctest.MinimalEnv(nil)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
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
		// Kill waits for go-plugin's copy of the plugin's stderr, which the failure needs.
		client.Kill()
		t.Fatalf("go-plugin handshake with %s: %v\nits output:\n%s", filepath.Base(bin), err, proctest.LogTail(logPath))
	}
	if v := client.NegotiatedVersion(); v != grpcplugin.ProtocolVersion {
		t.Fatalf("negotiated plugin protocol %d, want %d", v, grpcplugin.ProtocolVersion)
	}
	h := &Host{Client: client, Context: &pluginv2.PluginContext{OrgId: 1, PluginId: PluginID, DataSourceInstanceSettings: settings}}
	dispense := func(name string) any {
		raw, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("dispense %s: %v", name, err)
		}
		return raw
	}
	h.Diagnostics = dispense("diagnostics").(grpcplugin.DiagnosticsClient)
	h.Resource = dispense("resource").(grpcplugin.ResourceClient)
	h.Data = dispense("data").(grpcplugin.DataClient)
	return h
}

// Pid is the plugin process's id (0 when it is not running).
func (h *Host) Pid() int {
	if rc := h.Client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// PeakRSS is the plugin process's peak resident set (VmHWM) in bytes; 0 when it is not running or
// /proc has no answer.
func (h *Host) PeakRSS() int64 {
	if pid := h.Pid(); pid != 0 {
		return proctest.PeakRSS(pid)
	}
	return 0
}

// Health runs CheckHealth.
func (h *Host) Health(ctx context.Context) (*pluginv2.CheckHealthResponse, error) {
	return h.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: h.Context})
}

// Query is one query as Grafana sends it to a backend datasource.
type Query struct {
	RefID         string
	JSON          []byte
	From, To      time.Time
	Interval      time.Duration
	MaxDataPoints int64
}

// Result is one RefID's answer, its frames decoded.
type Result struct {
	Frames      data.Frames
	Error       string
	Status      int32
	ErrorSource string
}

// Query runs QueryData with the queries and decodes each RefID's frames.
func (h *Host) Query(ctx context.Context, qs ...Query) (map[string]Result, error) {
	req := &pluginv2.QueryDataRequest{PluginContext: h.Context}
	for _, q := range qs {
		req.Queries = append(req.Queries, &pluginv2.DataQuery{
			RefId:         q.RefID,
			Json:          q.JSON,
			TimeRange:     &pluginv2.TimeRange{FromEpochMS: q.From.UnixMilli(), ToEpochMS: q.To.UnixMilli()},
			IntervalMS:    q.Interval.Milliseconds(),
			MaxDataPoints: q.MaxDataPoints,
		})
	}
	resp, err := h.Data.QueryData(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]Result{}
	for ref, r := range resp.Responses {
		qr := Result{Error: r.Error, Status: r.Status, ErrorSource: r.ErrorSource}
		if len(r.Frames) > 0 {
			if qr.Frames, err = data.UnmarshalArrowFrames(r.Frames); err != nil {
				return nil, fmt.Errorf("%s: frames: %w", ref, err)
			}
		}
		out[ref] = qr
	}
	return out, nil
}

// Strings calls one of the datasource's resources that answer a JSON list of strings (the query
// editor's completion), as Grafana forwards /api/datasources/uid/<uid>/resources/<path>; an answer
// other than 200 is an error carrying the body.
func (h *Host) Strings(ctx context.Context, pathAndQuery string) ([]string, error) {
	path, _, _ := strings.Cut(pathAndQuery, "?")
	stream, err := h.Resource.CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: h.Context, Path: path, Method: http.MethodGet, Url: pathAndQuery,
	})
	if err != nil {
		return nil, err
	}
	var body []byte
	code := int32(0)
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if r.Code != 0 {
			code = r.Code
		}
		body = append(body, r.Body...)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("resource %s: HTTP %d: %s", pathAndQuery, code, body)
	}
	var out []string
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("resource %s: %v: %s", pathAndQuery, err, body)
	}
	return out, nil
}
