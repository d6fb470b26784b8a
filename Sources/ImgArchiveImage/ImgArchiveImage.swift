// ImgArchiveImage: see docs/architecture.md.
