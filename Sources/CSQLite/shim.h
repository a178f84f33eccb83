// SQLite 3: the C API, plus the SQLITE_TRANSIENT destructor that Swift cannot import as a macro.
#ifndef DONUTWORK_CSQLITE_SHIM_H
#define DONUTWORK_CSQLITE_SHIM_H

#include <sqlite3.h>

static inline sqlite3_destructor_type dw_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

#endif
