package proxy

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// headCase is a response head read for a request with method.
type headCase struct{ name, method, in string }

// Heads quickResponse takes, as app servers write them.
var quickHeads = []headCase{
	{"go", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Mon, 30 Nov 2026 17:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello"},
	{"node", "GET", "HTTP/1.1 200 OK\r\nx-powered-by: Express\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: 2\r\nETag: W/\"2-nOO9QiTIwXgNtWtBJezz8kv3SLc\"\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok"},
	{"no reason", "GET", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"},
	{"closing", "GET", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"},
	{"cookies", "GET", "HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nContent-Length: 0\r\n\r\n"},
	{"app request id", "GET", "HTTP/1.1 200 OK\r\nX-Request-Id: the-app-s-own-id-0123456789\r\nContent-Length: 1\r\n\r\nx"},
	{"connection names a field", "GET", "HTTP/1.1 200 OK\r\nConnection: x-hop, keep-alive\r\nX-Hop: 1\r\nX-Kept: 2\r\nContent-Length: 1\r\n\r\nx"},
	{"odd spacing", "GET", "HTTP/1.1 200 OK\r\nX-A:no-space\r\nX-B: \t trailing \t \r\nX-Empty:\r\nContent-Length:  2 \r\n\r\nok"},
	{"obs-text", "GET", "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n"},
	{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"},
	{"no content", "DELETE", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
	{"not modified", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"},
	{"lower-case and odd names", "GET", "HTTP/1.1 200 OK\r\nx-custom_thing: 1\r\nX-API-KEY: k\r\ncontent-length: 0\r\n\r\n"},
}

// Heads quickResponse leaves to http.ReadResponse.
var slowHeads = []headCase{
	{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"until close", "GET", "HTTP/1.1 200 OK\r\n\r\nhello"},
	{"informational", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"},
	{"switching", "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
	{"http/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{"folded", "GET", "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n"},
	{"bare lf", "GET", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
	{"pragma", "GET", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n"},
	{"two lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"},
	{"signed length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"},
	{"trailer", "GET", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 0\r\n\r\n"},
	{"space before colon", "GET", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n"},
	{"status 600", "GET", "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n"},
	{"control byte", "GET", "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n"},
	{"head larger than the buffer", "GET", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 0\r\n\r\n"},
}

// quickOrNil runs quickResponse on in as an upstream's buffer would hold
// it, returning the response, the header fields it set and the body.
func quickOrNil(t *testing.T, method, in string) (*http.Response, http.Header, string, error) {
	t.Helper()
	u := &upstream{br: bufio.NewReaderSize(strings.NewReader(in), upstreamBufferSize)}
	if _, err := u.br.Peek(1); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	res := quickResponse(u, &http.Request{Method: method}, h)
	if res == nil {
		if u.br.Buffered() != min(len(in), upstreamBufferSize) {
			t.Fatalf("quickResponse(%q) declined after consuming input", in)
		}
		return nil, nil, "", nil
	}
	body, err := io.ReadAll(res.Body)
	return res, h, string(body), err
}

// sameAsReadResponse checks that what quickResponse made of in is what
// the proxy made of http.ReadResponse's answer.
func sameAsReadResponse(t *testing.T, method, in string, res *http.Response, h http.Header, body string, bodyErr error) {
	t.Helper()
	ref, err := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("quickResponse took %q, which http.ReadResponse refuses: %v", in, err)
	}
	refBody, refErr := io.ReadAll(ref.Body)
	removeHopByHop(ref.Header)
	delete(ref.Header, headerRequestID)
	if res.StatusCode != ref.StatusCode || res.Close != ref.Close || !reflect.DeepEqual(h, ref.Header) ||
		body != string(refBody) || (bodyErr == nil) != (refErr == nil) {
		t.Errorf("for %q quickResponse gives %d close=%v %v body %q (%v); from http.ReadResponse: %d close=%v %v body %q (%v)",
			in, res.StatusCode, res.Close, h, body, bodyErr, ref.StatusCode, ref.Close, ref.Header, refBody, refErr)
	}
}

func TestQuickResponseMatchesReadResponse(t *testing.T) {
	for _, tt := range quickHeads {
		t.Run(tt.name, func(t *testing.T) {
			res, h, body, err := quickOrNil(t, tt.method, tt.in)
			if res == nil {
				t.Fatalf("quickResponse(%q) = nil, want it parsed", tt.in)
			}
			sameAsReadResponse(t, tt.method, tt.in, res, h, body, err)
		})
	}
}

func TestQuickResponseLeavesTheRest(t *testing.T) {
	for _, tt := range slowHeads {
		t.Run(tt.name, func(t *testing.T) {
			if res, h, _, _ := quickOrNil(t, tt.method, tt.in); res != nil {
				t.Errorf("quickResponse(%q) = %d %v, want it left to http.ReadResponse", tt.in, res.StatusCode, h)
			}
		})
	}
}

// TestQuickResponseMutations changes bytes of the heads above at random
// (a fixed seed: the same cases every run): whatever quickResponse takes
// must come out as from http.ReadResponse.
func TestQuickResponseMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\x00\t\n\r :;,-_ABCZabcz019\x7f\xc3\xff")
	seeds := slices.Concat(quickHeads, slowHeads)
	taken := 0
	for range 20000 {
		seed := seeds[rng.IntN(len(seeds))]
		in := []byte(seed.in)
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(in))
			switch rng.IntN(3) {
			case 0:
				in[i] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				in = append(in[:i], in[i+1:]...)
			default:
				in = append(in[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, in[i:]...)...)
			}
		}
		if res, h, body, err := quickOrNil(t, seed.method, string(in)); res != nil {
			taken++
			sameAsReadResponse(t, seed.method, string(in), res, h, body, err)
		}
	}
	t.Logf("%d of 20000 mutated heads taken", taken)
	if taken == 0 {
		t.Error("quickResponse took none of the mutated heads")
	}
}
