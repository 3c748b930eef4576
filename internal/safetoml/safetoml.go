// Package safetoml decodes TOML that hostile code wrote (buildpacks' plans,
// layer metadata, launch.toml, buildpack.toml of fetched buildpacks) with
// github.com/BurntSushi/toml, after checking the input cannot make the
// parser's memory explode: its memory grows with the square of the nesting
// of inline tables and arrays and of the parts of dotted keys, so 40 KB of
// `a.a.a…` take gigabytes. Real files nest a few levels.
package safetoml

import (
	"errors"
	"fmt"

	"github.com/BurntSushi/toml"
)

// MaxDepth bounds the nesting of arrays and inline tables, and the dots of
// one line's keys, outside strings.
const MaxDepth = 32

// ErrTooDeep reports input nested deeper than MaxDepth.
var ErrTooDeep = errors.New("TOML nested too deep")

// Decode checks data with Check and decodes it into v.
func Decode(data []byte, v any) error {
	if err := Check(data); err != nil {
		return err
	}
	_, err := toml.Decode(string(data), v)
	return err
}

// Check fails when data nests arrays and inline tables, or the dots of a
// line's keys, deeper than MaxDepth, counting outside strings and comments.
func Check(data []byte) error {
	depth, dots, line := 0, 0, 1
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch c {
		case '\n':
			line++
			dots = 0
		case '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
		case '"', '\'':
			end, newlines, err := skipString(data, i)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			i, line = end, line+newlines
		case '[', '{':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("line %d: %w (more than %d levels)", line, ErrTooDeep, MaxDepth)
			}
		case ']', '}':
			depth--
		case '.':
			if dots++; dots > MaxDepth {
				return fmt.Errorf("line %d: %w (a key of more than %d parts)", line, ErrTooDeep, MaxDepth)
			}
		}
	}
	return nil
}

// skipString returns the index of the last byte of the string starting at
// data[i], and the newlines in it.
func skipString(data []byte, i int) (end, newlines int, err error) {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 3
	} else {
		i++
	}
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\\' && q == '"':
			i++
		case c == '\n':
			if !multi {
				return 0, 0, errors.New("unterminated string")
			}
			newlines++
		case c == q && !multi:
			return i, newlines, nil
		case c == q && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			return i + 2, newlines, nil
		}
	}
	return 0, 0, errors.New("unterminated string")
}
