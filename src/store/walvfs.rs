//! A SQLite VFS over the platform's default one that writes the
//! write-ahead log a commit at a time.
//!
//! SQLite appends each WAL frame with two writes (its 24-byte header, then
//! the page), so a commit of a hundred pages costs two hundred system calls,
//! and on this kind of machine those calls, not the bytes, are most of a
//! commit. Here the WAL file keeps contiguous writes in memory and hands
//! them to the file in one write before anything could need them on disk or
//! read them back: a sync, a read, a size query, a truncation, a file
//! control, a close, or a write elsewhere in the file.
//!
//! This is only sound when every commit syncs the WAL before it becomes
//! visible, which is `synchronous=FULL` (or `EXTRA`): SQLite syncs the WAL
//! and only then publishes the commit in the shared WAL index, so other
//! connections never look for frames still held here. With
//! `synchronous=NORMAL` a commit is published without a sync; such
//! connections must not use this VFS. Only the connection that writes
//! frames (the store's writer) gains from it. Every other file (the
//! database, its shared-memory index, journals) is the default VFS's own
//! file, untouched.

use rusqlite::ffi;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::OnceLock;

/// The VFS's registered name.
pub const NAME: &str = "groupdeck-wal";
const C_NAME: &CStr = c"groupdeck-wal";

/// Bytes held at most; a longer run of writes goes out in pieces this big.
/// The unix VFS writes at most 128 KiB - 1 bytes per call.
const HOLD_LIMIT: usize = (128 << 10) - 1;

/// Registers the VFS once per process (not as the default).
pub fn register() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(install).clone()
}

fn install() -> Result<(), String> {
    // SAFETY: `sqlite3_vfs_find` initialises SQLite and returns a VFS that
    // lives for the rest of the process; the new VFS is leaked, so it does
    // too, as `sqlite3_vfs_register` requires.
    unsafe {
        let base = ffi::sqlite3_vfs_find(ptr::null());
        if base.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let base_size = usize::try_from((*base).szOsFile).map_err(|e| e.to_string())?;
        let size = c_int::try_from(std::mem::size_of::<WalFile>() + base_size)
            .map_err(|e| e.to_string())?;
        let vfs = ffi::sqlite3_vfs {
            iVersion: 2,
            szOsFile: size,
            mxPathname: (*base).mxPathname,
            pNext: ptr::null_mut(),
            zName: C_NAME.as_ptr(),
            pAppData: base.cast(),
            xOpen: Some(open),
            xDelete: Some(delete),
            xAccess: Some(access),
            xFullPathname: Some(full_pathname),
            xDlOpen: Some(dl_open),
            xDlError: Some(dl_error),
            xDlSym: Some(dl_sym),
            xDlClose: Some(dl_close),
            xRandomness: Some(randomness),
            xSleep: Some(sleep),
            xCurrentTime: Some(current_time),
            xGetLastError: Some(get_last_error),
            xCurrentTimeInt64: Some(current_time_int64),
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        };
        let vfs = Box::into_raw(Box::new(vfs));
        let rc = ffi::sqlite3_vfs_register(vfs, 0);
        if rc != ffi::SQLITE_OK {
            drop(Box::from_raw(vfs));
            return Err(format!(
                "registering the {NAME} VFS failed (SQLite code {rc})"
            ));
        }
    }
    Ok(())
}

/// A WAL file: the default VFS's file, placed right after this header in
/// the memory SQLite allocates (`szOsFile` covers both), and the writes not
/// yet handed to it.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    held: *mut Held,
}

/// Contiguous bytes meant for `start..start + bytes.len()` of the file.
struct Held {
    start: i64,
    bytes: Vec<u8>,
}

/// The VFS this one wraps.
unsafe fn base_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: `pAppData` was set to the default VFS at registration.
    unsafe { (*vfs).pAppData.cast() }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes `szOsFile` bytes at `file`, at least the base
    // VFS's size; the base VFS sets up its own file in the space it is given.
    unsafe {
        let base = base_vfs(vfs);
        let Some(base_open) = (*base).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not a WAL: the base VFS's file itself, with its own methods.
            return base_open(base, name, file, flags, out_flags);
        }
        let wal = file.cast::<WalFile>();
        let inner = file
            .cast::<u8>()
            .add(std::mem::size_of::<WalFile>())
            .cast::<ffi::sqlite3_file>();
        (*wal).base.pMethods = ptr::null();
        let rc = base_open(base, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*inner).pMethods.is_null() {
            return rc;
        }
        (*wal).inner = inner;
        (*wal).held = Box::into_raw(Box::new(Held {
            start: 0,
            bytes: Vec::new(),
        }));
        (*wal).base.pMethods = &WAL_METHODS;
        rc
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(wal_sector_size),
    xDeviceCharacteristics: Some(wal_device_characteristics),
    xShmMap: Some(wal_shm_map),
    xShmLock: Some(wal_shm_lock),
    xShmBarrier: Some(wal_shm_barrier),
    xShmUnmap: Some(wal_shm_unmap),
    xFetch: Some(wal_fetch),
    xUnfetch: Some(wal_unfetch),
};

/// The wrapped file and its methods.
unsafe fn parts(
    file: *mut ffi::sqlite3_file,
) -> (
    *mut ffi::sqlite3_file,
    &'static ffi::sqlite3_io_methods,
    *mut Held,
) {
    // SAFETY: only files opened by `open` with `WAL_METHODS` come here, and
    // their inner file is open (its methods are set and static).
    unsafe {
        let wal = file.cast::<WalFile>();
        let inner = (*wal).inner;
        (inner, &*(*inner).pMethods, (*wal).held)
    }
}

/// Hands the held bytes to the file.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: see `parts`; `held` is owned by this file until `wal_close`.
    unsafe {
        let (inner, methods, held) = parts(file);
        let held = &mut *held;
        if held.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let Some(write) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let Ok(n) = c_int::try_from(held.bytes.len()) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let rc = write(inner, held.bytes.as_ptr().cast(), n, held.start);
        // Written or failed, the bytes are no longer held: a failure is
        // reported now, and SQLite rolls the transaction back.
        held.bytes.clear();
        rc
    }
}

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes `amount` readable bytes at `data`.
    unsafe {
        let (inner, methods, held) = parts(file);
        let Ok(len) = usize::try_from(amount) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let end = (*held).start + (*held).bytes.len() as i64;
        let joins = !(*held).bytes.is_empty() && offset == end;
        if !joins || (*held).bytes.len() + len > HOLD_LIMIT {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if len > HOLD_LIMIT {
            return match methods.xWrite {
                Some(write) => write(inner, data, amount, offset),
                None => ffi::SQLITE_IOERR_WRITE,
            };
        }
        let held = &mut *held;
        if held.bytes.is_empty() {
            held.start = offset;
        }
        held.bytes
            .extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), len));
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file once; `held` was boxed by `open`.
    unsafe {
        let flushed = flush(file);
        let (inner, methods, held) = parts(file);
        let closed = match methods.xClose {
            Some(close) => close(inner),
            None => ffi::SQLITE_OK,
        };
        drop(Box::from_raw(held));
        (*file.cast::<WalFile>()).held = ptr::null_mut();
        (*file).pMethods = ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Defines a method that forwards to the wrapped file, first handing it the
/// held bytes when `$flush` (the method reads, syncs or resizes the file).
macro_rules! forward {
    ($flush:literal, $name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: see `parts`; the arguments are SQLite's, passed on.
            unsafe {
                if $flush {
                    let rc = flush(file);
                    if rc != ffi::SQLITE_OK {
                        return rc;
                    }
                }
                let (inner, methods, _) = parts(file);
                match methods.$method {
                    Some(f) => f(inner, $($arg),*),
                    None => $missing,
                }
            }
        }
    };
}

forward!(true, wal_read, xRead, (data: *mut c_void, amount: c_int, offset: i64), ffi::SQLITE_IOERR_READ);
forward!(true, wal_truncate, xTruncate, (size: i64), ffi::SQLITE_IOERR_TRUNCATE);
forward!(true, wal_sync, xSync, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
forward!(true, wal_file_size, xFileSize, (size: *mut i64), ffi::SQLITE_IOERR_FSTAT);
forward!(true, wal_file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);
forward!(true, wal_fetch, xFetch, (offset: i64, amount: c_int, out: *mut *mut c_void), {
    *out = ptr::null_mut();
    ffi::SQLITE_OK
});
forward!(false, wal_lock, xLock, (level: c_int), ffi::SQLITE_OK);
forward!(false, wal_unlock, xUnlock, (level: c_int), ffi::SQLITE_OK);
forward!(false, wal_check_reserved_lock, xCheckReservedLock, (out: *mut c_int), ffi::SQLITE_OK);
forward!(false, wal_sector_size, xSectorSize, (), 4096);
forward!(
    false,
    wal_device_characteristics,
    xDeviceCharacteristics,
    (),
    0
);
forward!(false, wal_shm_map, xShmMap, (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void), ffi::SQLITE_IOERR_SHMMAP);
forward!(false, wal_shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int), ffi::SQLITE_IOERR_SHMLOCK);
forward!(false, wal_shm_unmap, xShmUnmap, (delete: c_int), ffi::SQLITE_OK);
forward!(false, wal_unfetch, xUnfetch, (offset: i64, page: *mut c_void), ffi::SQLITE_OK);

unsafe extern "C" fn wal_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: see `parts`.
    unsafe {
        let (inner, methods, _) = parts(file);
        if let Some(f) = methods.xShmBarrier {
            f(inner);
        }
    }
}

/// Defines a VFS method that forwards to the base VFS.
macro_rules! vfs_forward {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs, $($arg: $ty),*) -> $ret {
            // SAFETY: the base VFS lives for the process; arguments passed on.
            unsafe {
                let base = base_vfs(vfs);
                match (*base).$method {
                    Some(f) => f(base, $($arg),*),
                    None => $missing,
                }
            }
        }
    };
}

vfs_forward!(delete, xDelete, (name: *const c_char, sync_dir: c_int) -> c_int, ffi::SQLITE_IOERR_DELETE);
vfs_forward!(access, xAccess, (name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_ACCESS);
vfs_forward!(full_pathname, xFullPathname, (name: *const c_char, n: c_int, out: *mut c_char) -> c_int, ffi::SQLITE_CANTOPEN);
vfs_forward!(dl_open, xDlOpen, (name: *const c_char) -> *mut c_void, ptr::null_mut());
vfs_forward!(dl_error, xDlError, (n: c_int, out: *mut c_char) -> (), ());
vfs_forward!(dl_sym, xDlSym, (handle: *mut c_void, symbol: *const c_char) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>, None);
vfs_forward!(dl_close, xDlClose, (handle: *mut c_void) -> (), ());
vfs_forward!(randomness, xRandomness, (n: c_int, out: *mut c_char) -> c_int, 0);
vfs_forward!(sleep, xSleep, (micros: c_int) -> c_int, 0);
vfs_forward!(current_time, xCurrentTime, (out: *mut f64) -> c_int, ffi::SQLITE_ERROR);
vfs_forward!(get_last_error, xGetLastError, (n: c_int, out: *mut c_char) -> c_int, 0);
vfs_forward!(current_time_int64, xCurrentTimeInt64, (out: *mut i64) -> c_int, ffi::SQLITE_ERROR);

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open_wal(path: &std::path::Path) -> anyhow::Result<Connection> {
        register().map_err(anyhow::Error::msg)?;
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    }

    /// Commits far larger than one held write, a reader on the default VFS
    /// following along, checkpoints in between and a reopen at the end.
    #[test]
    fn large_commits_read_back_everywhere() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("w.db");
        let writer = open_wal(&path)?;
        writer.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
             CREATE INDEX t_k ON t(k);",
        )?;
        let reader = Connection::open(&path)?;
        let mut expected = 0i64;
        for round in 0..6i64 {
            let tx = writer.unchecked_transaction()?;
            for i in 0..600i64 {
                let n = round * 600 + i;
                tx.execute(
                    "INSERT INTO t (id, k, v) VALUES (?1, ?2, zeroblob(700))",
                    rusqlite::params![n, format!("key-{}", (n * 7919) % 3001)],
                )?;
            }
            tx.commit()?;
            expected += 600;
            let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
            assert_eq!(seen, expected, "round {round}");
            if round % 2 == 1 {
                reader.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            }
        }
        let ok: String = reader.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(ok, "ok");
        drop(reader);
        drop(writer);
        let again = open_wal(&path)?;
        let n: i64 = again.query_row("SELECT count(*) FROM t WHERE k LIKE 'key-%'", [], |r| {
            r.get(0)
        })?;
        assert_eq!(n, expected);
        Ok(())
    }
}
