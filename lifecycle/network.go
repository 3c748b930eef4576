package lifecycle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/trust"
)

// caBundleVars name the CA bundle for the tools that do not use the
// system's bundle by default: Node.js has roots of its own, pip and
// requests use certifi's, curl and git builds may be configured with
// another file. Go and OpenSSL read SSL_CERT_FILE.
var caBundleVars = []string{
	"SSL_CERT_FILE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
	"NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "PIP_CERT",
}

// trustCAs writes the stack's CA bundle merged with Options.CAs into the
// work dir and adds a read-only mount of it over the stack's bundle, so
// every tool in the sandbox trusts what the host trusts. Being a mount, it
// is in neither the app, the cache nor the image.
func (b *build) trustCAs(mounts []sandbox.Mount) ([]sandbox.Mount, error) {
	if b.opts.CAs == nil {
		return mounts, nil
	}
	rootfs := b.opts.Stack.Rootfs
	if b.opts.NoSandbox {
		rootfs = "/"
	}
	target, pool, err := trust.StackBundle(rootfs)
	if err != nil {
		return nil, fmt.Errorf("reading the stack's CA bundle: %w", err)
	}
	pool.Merge(b.opts.CAs)
	file := filepath.Join(b.opts.WorkDir, "ca-certificates.crt")
	if err := os.WriteFile(file, pool.PEM(), 0o644); err != nil {
		return nil, fmt.Errorf("writing the build's CA bundle: %w", err)
	}
	if err := b.own(file); err != nil {
		return nil, err
	}
	b.caBundle = target
	return append(mounts, sandbox.Mount{Source: file, Target: target, ReadOnly: true}), nil
}

// trustEnv names the CA bundle, as the phases see it, in caBundleVars.
func (b *build) trustEnv() map[string]string {
	if b.caBundle == "" {
		return nil
	}
	env := map[string]string{}
	for _, v := range caBundleVars {
		env[v] = b.sb.Path(b.caBundle)
	}
	return env
}

// proxyVars are the proxy settings curl, wget, git, Go, npm, pip and apt
// read. Tools disagree on the spelling (curl reads http_proxy only in lower
// case, others prefer upper case), so each is given in both.
var proxyVars = []string{"http_proxy", "https_proxy", "no_proxy", "all_proxy"}

// ProxyEnv returns the proxy settings in environ (KEY=value pairs, as from
// os.Environ) under both their lower- and upper-case names. When both
// spellings are set, the lower-case one wins, as in curl.
func ProxyEnv(environ []string) map[string]string {
	env := parseEnviron(environ)
	out := map[string]string{}
	for _, name := range proxyVars {
		upper := strings.ToUpper(name)
		v, ok := env[name]
		if !ok {
			v, ok = env[upper]
		}
		if ok {
			out[name], out[upper] = v, v
		}
	}
	return out
}
