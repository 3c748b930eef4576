package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSubID(t *testing.T) {
	const file = "# comment\nother:200000:65536\npaas-test:100000:65536\n1001:300000:10\nbad:x:1\nempty:400000:0\n"
	tests := []struct {
		name   string
		names  []string
		want   idRange
		wantOK bool
	}{
		{"by name", []string{"paas-test"}, idRange{100000, 65536}, true},
		{"first match wins", []string{"1001", "paas-test"}, idRange{100000, 65536}, true},
		{"by uid", []string{"1001"}, idRange{300000, 10}, true},
		{"unparsable", []string{"bad"}, idRange{}, false},
		{"empty range", []string{"empty"}, idRange{}, false},
		{"absent", []string{"nobody"}, idRange{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseSubID(strings.NewReader(file), tt.names)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseSubID(%v) = %v, %v; want %v, %v", tt.names, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestIDMapCheck(t *testing.T) {
	root := idMap{kind: mapRoot, sub: [2]idRange{{rootRangeStart, rootRange}, {rootRangeStart, rootRange}}}
	sub := idMap{kind: mapSubID, uid: 1001, gid: 1001, sub: [2]idRange{{100000, 65536}, {100000, 1000}}}
	tests := []struct {
		name     string
		ids      idMap
		uid, gid int
		wantErr  bool
	}{
		{"root maps 65535", root, 65535, 65535, false},
		{"root stops at 65536", root, 65536, 0, true},
		{"subid uid in range", sub, 65536, 0, false},
		{"subid uid past range", sub, 65537, 0, true},
		{"subid gid past its own range", sub, 0, 1001, true},
		{"self maps 0", idMap{kind: mapSelf}, 0, 0, false},
		{"self lacks 1000", idMap{kind: mapSelf}, 1000, 1000, true},
		{"negative", root, -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ids.check(tt.uid, tt.gid)
			if tt.wantErr != errors.Is(err, ErrUnmappedID) || (!tt.wantErr && err != nil) {
				t.Errorf("check(%d, %d) = %v, want error %v", tt.uid, tt.gid, err, tt.wantErr)
			}
		})
	}
}
