package ddbproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
)

// item is a DynamoDB item in the JSON API's form: attribute name to an
// attribute value such as {"S":"lobby"}, kept as the client or the target
// wrote it.
type item = map[string]json.RawMessage

// scalar is a key attribute's value: one of S, N or B.
type scalar struct {
	S *string `json:"S"`
	N *string `json:"N"`
	B *string `json:"B"`
}

func parseScalar(v json.RawMessage) (scalar, bool) {
	var s scalar
	if err := json.Unmarshal(v, &s); err != nil || (s.S == nil && s.N == nil && s.B == nil) {
		return scalar{}, false
	}
	return s, true
}

// String is the value with its type, e.g. "S:lobby", for map keys and
// equality. Numbers are compared by their spelling, which dynalite keeps.
func (s scalar) String() string {
	switch {
	case s.S != nil:
		return "S:" + *s.S
	case s.N != nil:
		return "N:" + *s.N
	default:
		return "B:" + *s.B
	}
}

// compare orders two values of a sort key as DynamoDB does: strings and
// binaries by their bytes, numbers by their value.
func (s scalar) compare(o scalar) int {
	switch {
	case s.S != nil && o.S != nil:
		return strings.Compare(*s.S, *o.S)
	case s.N != nil && o.N != nil:
		a, _, errA := big.ParseFloat(*s.N, 10, 140, big.ToNearestEven)
		b, _, errB := big.ParseFloat(*o.N, 10, 140, big.ToNearestEven)
		if errA == nil && errB == nil {
			return a.Cmp(b)
		}
		return strings.Compare(*s.N, *o.N)
	case s.B != nil && o.B != nil:
		a, _ := base64.StdEncoding.DecodeString(*s.B)
		b, _ := base64.StdEncoding.DecodeString(*o.B)
		return bytes.Compare(a, b)
	}
	return strings.Compare(s.String(), o.String())
}

func sameValue(a, b json.RawMessage) bool {
	x, okA := parseScalar(a)
	y, okB := parseScalar(b)
	return okA && okB && x.String() == y.String()
}

// table is what the proxy needs of a table's description.
type table struct {
	hash, rng string // the primary key; rng is "" without a sort key
	indexes   map[string]index
}

type index struct {
	hash, rng  string
	projection string // ALL, KEYS_ONLY or INCLUDE
	include    []string
}

// key identifies an item of t by its primary key, or is "" when it lacks
// one.
func (t *table) key(it item) string {
	h, ok := parseScalar(it[t.hash])
	if !ok {
		return ""
	}
	k := h.String()
	if t.rng != "" {
		r, ok := parseScalar(it[t.rng])
		if !ok {
			return ""
		}
		k += "\x00" + r.String()
	}
	return k
}

// project returns what ix holds of it.
func (t *table) project(it item, ix index) item {
	if ix.projection == "ALL" {
		return it
	}
	out := item{}
	for _, a := range append([]string{t.hash, t.rng, ix.hash, ix.rng}, ix.include...) {
		if v, ok := it[a]; ok && a != "" {
			out[a] = v
		}
	}
	return out
}

// tableOf returns the description of a table, asking the target once per
// table (again after a CreateTable, UpdateTable or DeleteTable through the
// proxy). hdr are the headers of the client's request, whose signature the
// target accepts.
func (p *Proxy) tableOf(ctx context.Context, hdr http.Header, name string) (*table, error) {
	p.mu.Lock()
	t := p.tables[name]
	p.mu.Unlock()
	if t != nil {
		return t, nil
	}
	var out struct {
		Table struct {
			KeySchema              []keyElement
			GlobalSecondaryIndexes []struct {
				IndexName  string
				KeySchema  []keyElement
				Projection struct {
					ProjectionType   string
					NonKeyAttributes []string
				}
			}
		}
	}
	if err := p.call(ctx, hdr, "DescribeTable", map[string]string{"TableName": name}, &out); err != nil {
		return nil, err
	}
	t = &table{indexes: map[string]index{}}
	t.hash, t.rng = keySchema(out.Table.KeySchema)
	for _, g := range out.Table.GlobalSecondaryIndexes {
		ix := index{projection: g.Projection.ProjectionType, include: g.Projection.NonKeyAttributes}
		ix.hash, ix.rng = keySchema(g.KeySchema)
		t.indexes[g.IndexName] = ix
	}
	p.mu.Lock()
	p.tables[name] = t
	p.mu.Unlock()
	return t, nil
}

type keyElement struct{ AttributeName, KeyType string }

func keySchema(ks []keyElement) (hash, rng string) {
	for _, k := range ks {
		if k.KeyType == "HASH" {
			hash = k.AttributeName
		} else {
			rng = k.AttributeName
		}
	}
	return hash, rng
}

// forgetTable drops a table's cached description.
func (p *Proxy) forgetTable(name string) {
	p.mu.Lock()
	delete(p.tables, name)
	p.mu.Unlock()
}

// getItem reads an item with a strongly consistent read; nil when there is
// none.
func (p *Proxy) getItem(ctx context.Context, hdr http.Header, tableName string, t *table, it item) (item, error) {
	k := item{t.hash: it[t.hash]}
	if t.rng != "" {
		k[t.rng] = it[t.rng]
	}
	var out struct{ Item item }
	err := p.call(ctx, hdr, "GetItem", map[string]any{"TableName": tableName, "Key": k, "ConsistentRead": true}, &out)
	return out.Item, err
}

// call makes a request of the proxy's own to the target.
func (p *Proxy) call(ctx context.Context, hdr http.Header, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = forwardHeader(hdr)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", op, resp.Status, got)
	}
	return json.Unmarshal(got, out)
}
