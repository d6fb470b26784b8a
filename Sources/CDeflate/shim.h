#ifndef CDEFLATE_SHIM_H
#define CDEFLATE_SHIM_H
// libdeflate's CRC-32 (the gzip trailer's checksum), several times zlib's speed where the CPU has carry-less
// multiply; the WARC writer's stored members use it.
#include <libdeflate.h>
#endif
