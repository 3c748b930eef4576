package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// New returns a namespaced sandbox for cfg after checking, by starting one,
// that this machine can run it: the error wraps ErrUnavailable when user
// namespaces or overlayfs in them are refused.
func New(cfg Config) (Sandbox, error) {
	return newWithIDs(cfg, detectIDMap())
}

// newWithIDs is New with a given id mapping, which tests use to exercise
// every mapping the current user allows.
func newWithIDs(cfg Config, ids idMap) (Sandbox, error) {
	cfg, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &namespaced{cfg: cfg, ids: ids, work: filepath.Clean(cfg.Upper) + ".work"}
	// Root inside writes Upper and the overlay's work directory, so it
	// must own them.
	for _, dir := range []string{cfg.Upper, s.work, s.overlayWork(), s.mergedDir()} {
		if err := ids.mkdirOwned(dir); err != nil {
			return nil, fmt.Errorf("creating sandbox directory: %w", err)
		}
	}
	if s.mounts, err = ids.mountConfigs(cfg.Mounts); err != nil {
		return nil, err
	}
	// The probe mounts the overlays too: one refused fails New with
	// ErrNoOverlay, before any command ran.
	if _, err := runInit(context.Background(), s.ids, s.initConfig(&Cmd{}, true), nil); err != nil {
		return nil, err
	}
	return s, nil
}

// checkConfig validates cfg and makes its paths absolute, since the init
// resolves them after changing its view of the filesystem.
func checkConfig(cfg Config) (Config, error) {
	if err := checkReexec(); err != nil {
		return cfg, err
	}
	switch cfg.Network {
	case "":
		cfg.Network = NetworkHost
	case NetworkHost, NetworkNone:
	default:
		return cfg, fmt.Errorf("sandbox network %q: want %q or %q", cfg.Network, NetworkHost, NetworkNone)
	}
	if err := absPaths(&cfg.Root, &cfg.Upper); err != nil {
		return cfg, err
	}
	if fi, err := os.Stat(cfg.Root); err != nil || !fi.IsDir() {
		return cfg, fmt.Errorf("stack rootfs %s: %w", cfg.Root, errOrNotDir(err))
	}
	mounts, err := checkMounts(cfg.Mounts)
	cfg.Mounts = mounts
	return cfg, err
}

func errOrNotDir(err error) error {
	if err != nil {
		return err
	}
	return errors.New("not a directory")
}

// checkMounts returns mounts with absolute, clean paths and existing
// sources and upper directories.
func checkMounts(mounts []Mount) ([]Mount, error) {
	out := make([]Mount, len(mounts))
	for i, m := range mounts {
		if !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount target %q: not an absolute path", m.Target)
		}
		m.Target = filepath.Clean(m.Target)
		if err := absPaths(&m.Source); err != nil {
			return nil, err
		}
		if _, err := os.Stat(m.Source); err != nil {
			return nil, fmt.Errorf("mount source: %w", err)
		}
		if m.Upper != "" {
			if err := absPaths(&m.Upper); err != nil {
				return nil, err
			}
			if fi, err := os.Stat(m.Upper); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("overlay upper directory %s: %w", m.Upper, errOrNotDir(err))
			}
		}
		out[i] = m
	}
	return out, nil
}

func absPaths(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			return errors.New("sandbox config: empty path")
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// namespaced is the Sandbox New returns.
type namespaced struct {
	// mu serializes Run: overlayfs refuses two mounts sharing an upper dir.
	mu     sync.Mutex
	cfg    Config
	ids    idMap
	work   string
	mounts []mountConfig // cfg.Mounts as the init gets them
}

func (s *namespaced) overlayWork() string { return filepath.Join(s.work, "work") }
func (s *namespaced) mergedDir() string   { return filepath.Join(s.work, "root") }

// Path is the identity: the process sees the sandbox's own paths.
func (s *namespaced) Path(target string) string { return target }

func (s *namespaced) Run(ctx context.Context, cmd *Cmd) error {
	if len(cmd.Args) == 0 {
		return errors.New("running command: no arguments")
	}
	if err := s.ids.check(cmd.UID, cmd.GID); err != nil {
		return fmt.Errorf("running %s: %w", cmd.Args[0], err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, err := runInit(ctx, s.ids, s.initConfig(cmd, false), cmd)
	if err != nil {
		return err
	}
	if ee := rep.exitError(); ee != nil {
		return ee
	}
	return nil
}

// initConfig is what the init needs to build the sandbox and run cmd.
func (s *namespaced) initConfig(cmd *Cmd, probe bool) initConfig {
	return initConfig{
		Probe:     probe,
		Root:      s.cfg.Root,
		Upper:     s.cfg.Upper,
		Work:      s.overlayWork(),
		Merged:    s.mergedDir(),
		Mounts:    s.mounts,
		Network:   s.cfg.Network,
		Args:      cmd.Args,
		Env:       commandEnv(cmd.Env),
		Dir:       cmd.Dir,
		UID:       cmd.UID,
		GID:       cmd.GID,
		Limits:    s.cfg.Limits,
		SetGroups: s.ids.kind != mapSelf,
		MapLater:  s.ids.external(),
	}
}

// Available reports whether this process can create the sandbox's
// namespaces here, with the id mapping New would use. The error wraps
// ErrUnavailable when it cannot.
func Available() error {
	if err := checkReexec(); err != nil {
		return err
	}
	ids := detectIDMap()
	_, err := runInit(context.Background(), ids, initConfig{Probe: true, MapLater: ids.external()}, nil)
	return err
}
