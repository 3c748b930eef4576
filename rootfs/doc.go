// Package rootfs keeps unpacked root filesystems of images, for the
// sandbox: the stack a build runs on and the images the sandbox runtime
// starts share this one cache.
//
// A Cache is a directory ($PAAS_HOME/rootfs for paas) holding one tree per
// ChainID of an image's layers and sandbox id mapping, named
// <chain hex>-<mapping>: the layers are unpacked through the mapping (see
// sandbox.Unpack), so the owners on disk depend on it. A tree only ever
// appears under that name complete: it is unpacked into a sibling named
// .unpack-<chain hex>-<mapping>-<random> and renamed into place. Work on
// one ChainID is serialised, across processes, by a lock file
// .<chain hex>.lock, so a leftover .unpack-<chain hex>-* seen by the holder
// of that lock belongs to a process that died, and is removed.
package rootfs
