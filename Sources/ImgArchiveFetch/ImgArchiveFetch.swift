// ImgArchiveFetch: see docs/architecture.md.
