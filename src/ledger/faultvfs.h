/* The crash simulation's SQLite VFS (faultvfs.c). */
#ifndef OMH_LEDGER_FAULTVFS_H
#define OMH_LEDGER_FAULTVFS_H

#include <sqlite3.h>

/* The VFS name to open ledgers with when OMNIHUMAN_SIM_SQLITE asks for
 * faults (registered on first call), else NULL: the default VFS. */
const char *omh_ledger_fault_vfs(void);

#endif
