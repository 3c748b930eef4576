package health

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"strings"
)

// userAgent lets the app tell checks from visitors in its logs.
const userAgent = "paas-healthcheck"

// httpCheck GETs c's URL until an answer passes, up to c.Attempts times,
// with c.Wait between attempts. A failure is returned as a *Status.
func (r *runner) httpCheck(ctx context.Context, c Check) error {
	st := &Status{Check: c}
	if st.Err = pause(ctx, c.InitialDelay); st.Err != nil {
		return st
	}
	url := r.target(c)
	for {
		st.Attempts++
		a := r.get(ctx, url, c)
		if a.ok(c) {
			r.logf("%s passed on attempt %d of %d", c.label(), st.Attempts, c.Attempts)
			return nil
		}
		st.record(a)
		if err := stopped(ctx); err != nil || st.Attempts >= c.Attempts {
			st.Err = cmp.Or(err, st.Err) // a death or cancellation explains more than the last answer
			return st
		}
		r.logf("%s: attempt %d of %d failed: %s", c.label(), st.Attempts, c.Attempts, st.last())
		if st.Err = pause(ctx, c.Wait); st.Err != nil {
			return st
		}
	}
}

// get makes one attempt of c at url, limited to c.Timeout.
func (r *runner) get(ctx context.Context, url string, c Check) answer {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answer{err: err}
	}
	setHeaders(req, c.Headers)
	res, err := r.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	return newAnswer(res, body, err)
}

// setHeaders adds the check's headers to req; "Host" sets req.Host,
// since net/http ignores a Host entry in the header map.
func setHeaders(req *http.Request, headers map[string]string) {
	req.Header.Set("User-Agent", userAgent)
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
}
