package httpapi_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// serverRoutes are documented operations served beside the API by internal/server.
var serverRoutes = []string{"GET /metrics"}

// exampleOrder is the order in which TestOpenAPIExamples runs the documented examples, on one
// store: the create example makes webhook 1, the publish example delivery 1, the delete comes
// last. Every documented operation of the API must be listed.
var exampleOrder = []string{
	"POST /api/2.0/settings/webhook",
	"GET /api/2.0/settings/webhook",
	"PUT /api/2.0/settings/webhook",
	"PUT /api/2.0/settings/webhook/enable",
	"GET /api/2.0/settings/webhook/triggers",
	"POST /api/2.0/webhooks/events",
	"POST /api/2.0/webhooks/events/batch",
	"GET /api/2.0/settings/webhooks/log",
	"PUT /api/2.0/settings/webhook/{id}/retry",
	"PUT /api/2.0/settings/webhook/retry",
	"GET /api/2.0/webhooks/deliveries/{id}/attempts",
	"PUT /api/2.0/webhooks/{id}/secret",
	"POST /api/2.0/webhooks/{id}/pause",
	"POST /api/2.0/webhooks/{id}/resume",
	"POST /api/2.0/webhooks/replays",
	"GET /api/2.0/webhooks/replays",
	"GET /api/2.0/webhooks/replays/{id}",
	"GET /api/2.0/webhooks/replays/{id}/items",
	"POST /api/2.0/webhooks/replays/{id}/cancel",
	"DELETE /api/2.0/webhooks/replays/{id}",
	"GET /healthz",
	"GET /readyz",
	"GET /api/2.0/openapi.json",
	"DELETE /api/2.0/settings/webhook/{id}",
}

// oasDoc is the OpenAPI document as generic JSON.
type oasDoc map[string]any

// registeredRoutes reads the patterns routes.go registers ("GET /api/2.0/...").
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Handle" {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			p, _ := strconv.Unquote(lit.Value)
			out = append(out, p)
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("found no route in routes.go")
	}
	return out
}

// operations returns "METHOD path" of every documented operation.
func (d oasDoc) operations() []string {
	var out []string
	for path, item := range d["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// operation returns the operation object of "METHOD path", nil when it is not documented.
func (d oasDoc) operation(op string) map[string]any {
	method, path, _ := strings.Cut(op, " ")
	item, _ := d["paths"].(map[string]any)[path].(map[string]any)
	o, _ := item[strings.ToLower(method)].(map[string]any)
	return o
}

func loadDoc(t testing.TB, f *fixture) oasDoc {
	t.Helper()
	a := f.do(nil, "GET", "/api/2.0/openapi.json", "")
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/2.0/openapi.json without a key: got %d %s, want 200 JSON", a.status, a.header.Get("Content-Type"))
	}
	var d oasDoc
	if err := json.Unmarshal(a.raw, &d); err != nil {
		t.Fatal(err)
	}
	if v, _ := d["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("got openapi version %q, want 3.x", v)
	}
	return d
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	d := loadDoc(t, newFixture(t))
	documented := d.operations()
	registered := registeredRoutes(t)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is registered in routes.go but not in openapi.json", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) && !slices.Contains(serverRoutes, op) {
			t.Errorf("operation %q is in openapi.json but no route serves it", op)
		}
		if !slices.Contains(exampleOrder, op) && !slices.Contains(serverRoutes, op) {
			t.Errorf("operation %q has no place in exampleOrder: its example is not checked", op)
		}
		o := d.operation(op)
		if o["operationId"] == nil || o["summary"] == nil || o["responses"] == nil {
			t.Errorf("operation %q lacks operationId, summary or responses", op)
		}
	}
}

// TestOpenAPIExamplesMatchSchemas checks every example of the document against its schema.
func TestOpenAPIExamplesMatchSchemas(t *testing.T) {
	t.Parallel()
	d := loadDoc(t, newFixture(t))
	for _, op := range d.operations() {
		o := d.operation(op)
		if rb, ok := o["requestBody"].(map[string]any); ok {
			mt := rb["content"].(map[string]any)["application/json"].(map[string]any)
			for _, p := range d.validate(mt["schema"], mt["example"], op+" request") {
				t.Error(p)
			}
		}
		for code, r := range o["responses"].(map[string]any) {
			c, _ := r.(map[string]any)["content"].(map[string]any)
			mt, ok := c["application/json"].(map[string]any)
			if !ok || mt["example"] == nil {
				continue
			}
			for _, p := range d.validate(mt["schema"], mt["example"], op+" "+code) {
				t.Error(p)
			}
		}
	}
	for name, s := range d["components"].(map[string]any)["schemas"].(map[string]any) {
		if ex, ok := s.(map[string]any)["example"]; ok {
			for _, p := range d.validate(s, ex, name) {
				t.Error(p)
			}
		}
	}
}

// TestOpenAPIExamples sends each documented request example to the handlers, in
// exampleOrder, and checks the answer has the documented success status and matches the
// documented schema (no undocumented field, no missing required one).
func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := loadDoc(t, f)
	for _, op := range exampleOrder {
		if op == "GET /api/2.0/settings/webhooks/log" {
			// Give delivery 1 an attempt, so that the log and attempts examples show one.
			f.recordAttempts(map[int64]attempt{1: {status: 200, body: "ok"}})
		}
		o := d.operation(op)
		if o == nil {
			t.Errorf("%s: not documented", op)
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		q := url.Values{}
		params, _ := o["parameters"].([]any)
		for _, p := range params {
			p := p.(map[string]any)
			ex, ok := p["example"]
			if !ok {
				continue
			}
			v := fmt.Sprint(ex)
			switch p["in"] {
			case "path":
				path = strings.ReplaceAll(path, "{"+p["name"].(string)+"}", v)
			case "query":
				q.Set(p["name"].(string), v)
			}
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		body := ""
		if rb, ok := o["requestBody"].(map[string]any); ok {
			raw, err := json.Marshal(rb["content"].(map[string]any)["application/json"].(map[string]any)["example"])
			if err != nil {
				t.Fatal(err)
			}
			body = string(raw)
		}
		c := &f.admin
		if sec, ok := o["security"].([]any); ok && len(sec) == 0 {
			c = nil // documented as needing no key: prove it
		}
		a := f.do(c, method, path, body)
		code, schema := successResponse(o)
		if strconv.Itoa(a.status) != code {
			t.Errorf("%s: got status %d, want the documented %s; body: %s", op, a.status, code, a.raw)
			continue
		}
		var got any
		if err := json.Unmarshal(a.raw, &got); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.validate(schema, got, op+" answer") {
			t.Error(p)
		}
	}
}

// successResponse returns the documented 2xx status of an operation and its JSON schema.
func successResponse(o map[string]any) (string, any) {
	for code, r := range o["responses"].(map[string]any) {
		if strings.HasPrefix(code, "2") {
			c, _ := r.(map[string]any)["content"].(map[string]any)
			mt, _ := c["application/json"].(map[string]any)
			return code, mt["schema"]
		}
	}
	return "", nil
}

// resolve follows a local $ref.
func (d oasDoc) resolve(s any) map[string]any {
	m, _ := s.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		m, _ = d["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	}
	return m
}

// merged folds allOf into one object schema: properties and required lists joined.
func (d oasDoc) merged(s map[string]any) map[string]any {
	all, ok := s["allOf"].([]any)
	if !ok {
		return s
	}
	props, req := map[string]any{}, []any{}
	for _, part := range all {
		p := d.merged(d.resolve(part))
		if pp, ok := p["properties"].(map[string]any); ok {
			for k, v := range pp {
				props[k] = v
			}
		}
		if r, ok := p["required"].([]any); ok {
			req = append(req, r...)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": req}
}

// validate checks v against schema s (the subset of OpenAPI 3.0 the document uses) and
// returns the problems. Objects with declared properties accept no other key unless
// additionalProperties says so: an undocumented field in an answer is a finding.
func (d oasDoc) validate(s, v any, at string) []string {
	m := d.resolve(s)
	if m == nil {
		return []string{at + ": no schema"}
	}
	m = d.merged(m)
	if alts, ok := m["oneOf"].([]any); ok {
		for _, alt := range alts {
			if len(d.validate(alt, v, at)) == 0 {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %v matches none of oneOf", at, v)}
	}
	if v == nil {
		if m["type"] == nil || m["nullable"] == true {
			return nil
		}
		return []string{at + ": null where the schema wants " + fmt.Sprint(m["type"])}
	}
	if enum, ok := m["enum"].([]any); ok && !slices.Contains(enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
	}
	var probs []string
	switch m["type"] {
	case nil:
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an object", at, v)}
		}
		props, _ := m["properties"].(map[string]any)
		req, _ := m["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				probs = append(probs, fmt.Sprintf("%s: required %q missing", at, r))
			}
		}
		for k, val := range obj {
			if ps, ok := props[k]; ok {
				probs = append(probs, d.validate(ps, val, at+"."+k)...)
				continue
			}
			switch ap := m["additionalProperties"].(type) {
			case map[string]any:
				probs = append(probs, d.validate(ap, val, at+"."+k)...)
			case bool:
				if !ap {
					probs = append(probs, fmt.Sprintf("%s: undocumented field %q", at, k))
				}
			default:
				if props != nil {
					probs = append(probs, fmt.Sprintf("%s: undocumented field %q", at, k))
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an array", at, v)}
		}
		for i, item := range arr {
			probs = append(probs, d.validate(m["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			probs = append(probs, fmt.Sprintf("%s: got %T, want a string", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			probs = append(probs, fmt.Sprintf("%s: got %T, want a boolean", at, v))
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok || (m["type"] == "integer" && n != math.Trunc(n)) {
			probs = append(probs, fmt.Sprintf("%s: got %v, want %s", at, v, m["type"]))
		}
	default:
		probs = append(probs, fmt.Sprintf("%s: schema type %v not understood by this test", at, m["type"]))
	}
	return probs
}
