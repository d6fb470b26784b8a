#ifndef CPOSTGRES_SHIM_H
#define CPOSTGRES_SHIM_H
// libpq, PostgreSQL's C client. Nothing to wrap: its calls are not variadic and its constants import.
#include <libpq-fe.h>
#endif
