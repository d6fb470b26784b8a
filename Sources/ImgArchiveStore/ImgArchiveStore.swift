// ImgArchiveStore: see docs/architecture.md.
