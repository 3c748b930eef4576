package health

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

var (
	// ErrExited is matched (errors.Is) by Wait's error when the process
	// died before it became ready.
	ErrExited = errors.New("process exited")
	// ErrNotListening is matched by Wait's error when the port never
	// accepted connections within the listen timeout.
	ErrNotListening = errors.New("never accepted connections")
)

// maxSnippet bounds, in characters, the start of a failing answer's body
// kept for messages.
const maxSnippet = 120

// Status is what an HTTP check saw when it failed. Wait returns it as its
// error; errors.As gives callers the details (last status code, body).
type Status struct {
	Check    Check
	Attempts int    // attempts made
	Code     int    // last HTTP status code; 0 if there was no answer
	Status   string // last HTTP status line, e.g. "500 Internal Server Error"
	Body     string // start of the last answer's body, on one line
	Location string // where the last answer redirected to, if it did
	Err      error  // why the last attempt got no answer, or ErrExited
}

// Error says which check failed, how often, and what it last saw:
// `readiness check "/health" failed 3 times: last answer 500 Internal Server Error`.
func (s *Status) Error() string {
	if errors.Is(s.Err, ErrExited) {
		return fmt.Sprintf("%v during %s (%d of %d attempts made)", ErrExited, s.Check.label(), s.Attempts, s.Check.Attempts)
	}
	return fmt.Sprintf("%s failed %s: %s", s.Check.label(), times(s.Attempts), s.last())
}

// Unwrap returns the last attempt's error, so errors.Is(err, ErrExited)
// and context errors can be matched.
func (s *Status) Unwrap() error {
	return s.Err
}

// last describes the last attempt.
func (s *Status) last() string {
	switch {
	case s.Err != nil && isTimeout(s.Err):
		return "last attempt got no answer within " + fmtDuration(s.Check.Timeout)
	case s.Err != nil:
		return "last attempt: " + s.Err.Error()
	case s.Code/100 == 2:
		return fmt.Sprintf("last answer %s did not contain %q", s.Status, s.Check.Content) + s.bodyNote()
	case s.Code/100 == 3:
		return fmt.Sprintf("last answer %s to %q (redirects are not followed)", s.Status, s.Location)
	}
	return "last answer " + s.Status + s.bodyNote()
}

// bodyNote quotes the start of the body, "" when it was empty.
func (s *Status) bodyNote() string {
	if s.Body == "" {
		return ""
	}
	return ": " + strconv.Quote(s.Body)
}

// record keeps what one attempt saw.
func (s *Status) record(a answer) {
	s.Code, s.Status, s.Location, s.Err = a.code, a.status, a.location, a.err
	s.Body = snippet(a.body)
}

// snippet returns the start of body as one printable line.
func snippet(body []byte) string {
	head := body[:min(len(body), 4*maxSnippet)]
	s := strings.Join(strings.FieldsFunc(string(head), notPrintable), " ")
	if r := []rune(s); len(r) > maxSnippet {
		return string(r[:maxSnippet]) + "…"
	}
	return s
}

// notPrintable reports whether r should not show in a one-line snippet.
func notPrintable(r rune) bool {
	return unicode.IsSpace(r) || !unicode.IsPrint(r)
}

// times says "1 time" or "3 times".
func times(n int) string {
	if n == 1 {
		return "1 time"
	}
	return strconv.Itoa(n) + " times"
}

// isTimeout reports whether err is a timeout, such as a try's Timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// answer is what one HTTP attempt got.
type answer struct {
	code     int
	status   string
	body     []byte
	location string
	err      error
}

// newAnswer reads what res says; readErr is the error reading its body.
func newAnswer(res *http.Response, body []byte, readErr error) answer {
	return answer{code: res.StatusCode, status: res.Status, body: body, location: res.Header.Get("Location"), err: readErr}
}

// ok reports whether a passes c: a 2xx answer containing c.Content.
func (a answer) ok(c Check) bool {
	return a.err == nil && a.code/100 == 2 && strings.Contains(string(a.body), c.Content)
}
