// Package archive turns OCI/Docker layer tar streams into overlayfs layer
// directories and back:
//
//   - DetectCompression / DecompressStream recognise gzip, bzip2, xz and zstd
//     by their magic bytes;
//   - Apply unpacks a layer into an overlayfs upper (or bottom) directory,
//     converting OCI whiteouts into overlay whiteouts; it is the security
//     boundary for image import and pull and rejects entries that would
//     escape the directory (ErrUnsafePath);
//   - WriteDiff writes an upper directory back as a reproducible OCI layer;
//   - Changes lists what an upper directory changes, like `docker diff`.
//
// Everything but compression detection is Linux only and expects to run as
// root (ownership, device nodes and trusted.* xattrs).
package archive
