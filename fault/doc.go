// Package fault gives every failure paas reports a class, and every class
// its exit code (SPEC.md, "Exit codes").
//
// Packages mark their failures with sentinels made by New, and wrap causes
// with %w after them; an error type of their own may instead have a method
// Kind() fault.Kind. The class then travels with the error however it is
// wrapped later, so the exit code depends neither on how a cause was
// formatted nor on the order of a lookup table.
package fault
