/* A SQLite VFS for the crash simulation (make sim) only: it wraps the
 * default VFS and breaks SQLite's own file operations as
 * OMNIHUMAN_SIM_SQLITE says: "kill_sync=N" SIGKILLs the process as the Nth
 * sync of a ledger file starts (a commit's pages written, not yet durable:
 * a crash inside COMMIT), "fail_sync=N" fails that sync
 * (SQLITE_IOERR_FSYNC), "fail_write_from=N" fails every write from the Nth
 * on (SQLITE_FULL, a full disk). Without the variable, ledgers open on the
 * default VFS and none of this runs. The counters belong to the process,
 * as the faults do; no Lua state is kept. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultvfs.h"

typedef struct {
  sqlite3_file base;
  sqlite3_file *real; /* the default VFS's file, right after this struct */
} fault_file;

enum { NONE, KILL_SYNC, FAIL_SYNC, FAIL_WRITE_FROM };

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *real_vfs;
static int mode = NONE, decided;
static long limit, syncs, writes;

static sqlite3_file *real_of(sqlite3_file *f) { return ((fault_file *)f)->real; }

static int f_close(sqlite3_file *f) { return real_of(f)->pMethods->xClose(real_of(f)); }

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  if (mode == FAIL_WRITE_FROM && ++writes >= limit) return SQLITE_FULL;
  return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size) {
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags) {
  if ((mode == KILL_SYNC || mode == FAIL_SYNC) && ++syncs == limit) {
    if (mode == FAIL_SYNC) return SQLITE_IOERR_FSYNC;
    kill(getpid(), SIGKILL);
    for (;;) pause(); /* the signal is on its way */
  }
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int f_lock(sqlite3_file *f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }

static int f_unlock(sqlite3_file *f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }

static int f_check_reserved(sqlite3_file *f, int *out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int f_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }

static int f_device(sqlite3_file *f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }

static int f_shm_unmap(sqlite3_file *f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static const sqlite3_io_methods fault_methods = {
    3,           f_close,       f_read,          f_write,     f_truncate,      f_sync,
    f_file_size, f_lock,        f_unlock,        f_check_reserved, f_file_control, f_sector_size,
    f_device,    f_shm_map,     f_shm_lock,      f_shm_barrier, f_shm_unmap,   f_fetch,
    f_unfetch};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  fault_file *ff = (fault_file *)f;
  int rc;
  (void)vfs;
  ff->real = (sqlite3_file *)(ff + 1);
  rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
  /* SQLite calls xClose whenever pMethods is set, even after a failed open */
  f->pMethods = ff->real->pMethods ? &fault_methods : NULL;
  return rc;
}

const char *omh_ledger_fault_vfs(void) {
  if (!decided) {
    const char *spec = getenv("OMNIHUMAN_SIM_SQLITE");
    static const struct {
      const char *prefix;
      int mode;
    } modes[] = {{"kill_sync=", KILL_SYNC}, {"fail_sync=", FAIL_SYNC}, {"fail_write_from=", FAIL_WRITE_FROM}};
    decided = 1;
    for (size_t i = 0; spec && i < sizeof modes / sizeof modes[0]; i++) {
      size_t n = strlen(modes[i].prefix);
      if (strncmp(spec, modes[i].prefix, n) == 0 && atol(spec + n) > 0) {
        mode = modes[i].mode;
        limit = atol(spec + n);
      }
    }
    real_vfs = sqlite3_vfs_find(NULL);
    if (mode != NONE && real_vfs && real_vfs->iVersion >= 1) {
      fault_vfs = *real_vfs;
      fault_vfs.zName = "omnihuman-sim-faults";
      fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
      fault_vfs.xOpen = f_open;
      fault_vfs.pNext = NULL;
      if (sqlite3_vfs_register(&fault_vfs, 0) != SQLITE_OK) mode = NONE;
    } else {
      mode = NONE;
    }
  }
  return mode == NONE ? NULL : fault_vfs.zName;
}
