// libpq, PostgreSQL's C client library, plus the error field codes Swift cannot import as macros.
#ifndef DONUTWORK_CPOSTGRES_SHIM_H
#define DONUTWORK_CPOSTGRES_SHIM_H

#include <libpq-fe.h>

// The error field codes are character macros, which Swift does not import.
static inline int dw_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int dw_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }

#endif
