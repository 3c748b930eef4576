// Package layers turns directories and small generated file sets into
// deterministic OCI layers, and unpacks layer tarballs into directories.
//
// It is the only package in paas that writes tar streams. Every layer it
// makes is reproducible: the same content gives the same DiffID and Digest
// whatever the source directory's path, file times, owners or the order the
// filesystem lists entries in. Layers are built in one streaming pass (walk →
// tar → compressor → temporary file, hashing as the bytes go by), so memory
// does not grow with the size of the files. With WithReuse, a layer whose
// tar stream hashes to the DiffID of one made before is given back as it
// was instead of being compressed again. Gzip compression runs on every
// core in fixed 1 MiB blocks whose bytes do not depend on the machine
// (compress.go).
//
// Unpack is the reverse for uncompressed layer tars, and paas's only archive
// extractor: it applies OCI whiteouts and never writes outside its target
// directory, even when the tar holds absolute paths, ".." or symlinks that
// point elsewhere; it drops set-ID bits, skips devices, caps sizes, writes
// holes for zeros and can check the layer's DiffID (SPEC.md §5,
// "Extracting archives").
package layers
