// SPDX-License-Identifier: MIT
/*
 * aiod_shm.h — the shared-memory layout of one aiod session.
 *
 * This header is the binary contract between the daemon and its clients. It is
 * C-compatible and has no dependencies beyond <stdint.h>, so that a client in any
 * language can be written against it. docs/protocol.md describes it byte by byte.
 *
 * One session = one memfd created, sized and sealed by the daemon:
 *
 *   offset 0            struct aiod_shm_header   (one page)
 *   sq_offset           struct aiod_sqe[sq_entries]   submission ring
 *   cq_offset           struct aiod_cqe[cq_entries]   completion ring
 *   arena_offset        arena_size bytes              buffer arena (client-managed)
 *
 * Offsets and sizes travel in the handshake reply (control.fbs: Welcome) and are
 * repeated in the header for debugging. Both sides map the whole region shared and
 * writable. The daemon treats every byte of it as hostile: it reads each index
 * once, copies every descriptor out before validating it, and never reads back a
 * value it wrote itself.
 *
 * Ring indices are free-running uint32_t counters (they wrap); an entry lives at
 * index & (entries - 1). Entries counts are powers of two.
 */
#ifndef AIOD_SHM_H
#define AIOD_SHM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AIOD_PROTOCOL_VERSION 1u
#define AIOD_SHM_MAGIC 0x444f4941u /* "AIOD" in memory on little-endian */

#define AIOD_CACHELINE 64u
#define AIOD_SQE_SIZE 64u
#define AIOD_CQE_SIZE 16u

/* Limits the daemon enforces on a session's rings. */
#define AIOD_MIN_SQ_ENTRIES 1u
#define AIOD_MAX_SQ_ENTRIES 32768u
/* The completion ring is always twice the submission ring. */
#define AIOD_CQ_PER_SQ 2u

/* ------------------------------------------------------------------------- */
/* Handles: a client names its files, directories and sockets by handles from  */
/* its own table, never by file descriptor numbers.                            */
/* ------------------------------------------------------------------------- */

/* Never a valid handle: a zero-initialised handle names nothing. */
#define AIOD_HANDLE_INVALID 0u
/* For *_at operations: resolve relative paths against the client's cwd. */
#define AIOD_HANDLE_CWD 0xffffffffu

/* For read/write: use (and advance) the file position instead of an offset. */
#define AIOD_OFFSET_CURRENT 0xffffffffffffffffull

/* ------------------------------------------------------------------------- */
/* Operations                                                                  */
/* ------------------------------------------------------------------------- */

/*
 * Opcode numbers are part of the protocol and never change meaning. Which
 * descriptor fields each opcode uses, and what they carry, is the op table
 * in proto/op_table.hpp (one row per opcode); every other field must be zero
 * (the daemon completes the op with -EINVAL otherwise). "path" fields are
 * (arena offset, byte length without NUL). Results are >= 0 on success.
 * docs/operations.md is the full reference.
 */
enum aiod_opcode {
  AIOD_OP_NOP = 0,
  AIOD_OP_READ = 1,
  AIOD_OP_WRITE = 2,
  AIOD_OP_FSYNC = 3,
  AIOD_OP_TIMEOUT = 4,
  AIOD_OP_OPEN_AT = 5,
  AIOD_OP_CLOSE_FILE = 6,
  AIOD_OP_POLL = 7,
  AIOD_OP_READ_TTY = 8,
  AIOD_OP_READV = 9,
  AIOD_OP_WRITEV = 10,
  AIOD_OP_ACCEPT = 11,
  AIOD_OP_CONNECT = 12,
  AIOD_OP_BIND = 13,
  AIOD_OP_LISTEN = 14,
  AIOD_OP_RECV = 15,
  AIOD_OP_SEND = 16,
  AIOD_OP_RECV_MSG = 17,
  AIOD_OP_SEND_MSG = 18,
  AIOD_OP_SHUTDOWN = 19,
  AIOD_OP_CLOSE_DIR = 20,
  AIOD_OP_LINK_TIMEOUT = 21,
  AIOD_OP_CANCEL = 22,
  AIOD_OP_RENAME_AT = 23,
  AIOD_OP_UNLINK_AT = 24,
  AIOD_OP_MKDIR_AT = 25,
  AIOD_OP_SYMLINK_AT = 26,
  AIOD_OP_CHILD_EXIT = 27,
  AIOD_OP_SOCKET = 28,
  AIOD_OP_CLOSE_SOCKET = 29,
  AIOD_OP_NOTIFY_EVENT_SOURCE = 30,
  AIOD_OP_WAIT_EVENT_SOURCE = 31,
  AIOD_OP_CLOSE_EVENT_SOURCE = 32,
  AIOD_OP_SPLICE = 33,
  AIOD_OP_OPENAT2 = 34,
  AIOD_OP_STATX = 35,
  AIOD_OP_FALLOCATE = 36,
  AIOD_OP_FADVISE = 37,
  AIOD_OP_FTRUNCATE = 38,
  AIOD_OP_SYNC_FILE_RANGE = 39,
  AIOD_OP_SETSOCKOPT = 40,
  AIOD_OP_GETSOCKOPT = 41,
  AIOD_OP_GETSOCKNAME = 42,
  AIOD_OP_GETPEERNAME = 43,
  AIOD_OP_LAST /* not an opcode: one past the highest */
};

/* aiod_sqe.flags */
#define AIOD_SQE_LINK (1u << 0)     /* soft link: the next descriptor runs after this one;  */
                                    /* a failure cancels the rest of the chain              */
#define AIOD_SQE_HARDLINK (1u << 1) /* hard link: the next descriptor runs after this one,  */
                                    /* whatever this one's result                           */
#define AIOD_SQE_VALID_FLAGS (AIOD_SQE_LINK | AIOD_SQE_HARDLINK)

/* aiod_sqe.op_flags for AIOD_OP_FSYNC */
#define AIOD_FSYNC_DATASYNC (1u << 0)

/* aiod_sqe.op_flags for AIOD_OP_CHILD_EXIT */
#define AIOD_CHILD_EXIT_CLOSE (1u << 0) /* close the pidfd handle once the child exited */

/* Most entries an aiod_iovec array may have (the kernel's IOV_MAX). */
#define AIOD_IOV_MAX 1024u

/* A buffer inside the arena, for READV / WRITEV and message IO. */
struct aiod_iovec {
  uint64_t offset; /* arena offset */
  uint64_t len;    /* bytes        */
};

/*
 * Where ACCEPT puts the peer's address. The daemon writes both fields when the
 * op succeeds; at most sizeof(addr) bytes of the address are kept.
 */
struct aiod_sockaddr_out {
  uint32_t len; /* written: the address's full length */
  uint32_t reserved;
  uint8_t addr[128]; /* written: struct sockaddr_*          */
};

/*
 * A message for RECV_MSG / SEND_MSG, in the arena. The daemon copies it out,
 * checks every range, and (RECV_MSG) writes back name_len, flags and
 * control_len. SCM_RIGHTS control messages carry handles, not descriptors, in
 * both directions: descriptors received become handles of the session.
 */
struct aiod_msghdr {
  uint64_t name;        /* arena offset of the address, or 0 with name_len 0     */
  uint32_t name_len;    /* in: bytes (send) or room (recv); out: address length  */
  uint32_t flags;       /* out (RECV_MSG): the received message's MSG_* flags     */
  uint64_t iov;         /* arena offset of struct aiod_iovec[iov_count]           */
  uint32_t iov_count;   /* at most AIOD_IOV_MAX                                   */
  uint32_t reserved;    /* must be 0                                              */
  uint64_t control;     /* arena offset of the control data, or 0                 */
  uint64_t control_len; /* in: bytes (send) or room (recv); out: bytes received   */
};

/*
 * One operation descriptor: 64 bytes, written by the client into the submission
 * ring. The meaning of the generic fields depends on the opcode (see the enum).
 * Buffers and paths are (offset, length) inside the session's arena.
 */
struct aiod_sqe {
  uint8_t opcode;     /* enum aiod_opcode                                   */
  uint8_t flags;      /* AIOD_SQE_*                                         */
  uint16_t reserved0; /* must be 0                                          */
  uint32_t handle;    /* file / socket / directory handle                   */
  uint64_t off;       /* file offset, or a count of nanoseconds             */
  uint64_t addr;      /* arena offset of the buffer or path                 */
  uint32_t len;       /* byte length at addr (a path: without its NUL)      */
  uint32_t op_flags;  /* per-opcode flags (open flags, fsync flags, ...)    */
  uint64_t user_data; /* returned unchanged in the completion               */
  uint64_t addr2;     /* second arena offset (second path, result struct)   */
  uint32_t len2;      /* byte length at addr2                               */
  uint32_t mode;      /* file mode for creating opcodes                     */
  uint64_t reserved1; /* must be 0                                          */
};

/* aiod_cqe.flags: none are defined in protocol version 1. */

/*
 * One completion: written by the daemon into the completion ring. Exactly one
 * completion is posted for every descriptor the daemon consumes.
 */
struct aiod_cqe {
  uint64_t user_data; /* the descriptor's user_data                          */
  int32_t res;        /* >= 0: the op's result (bytes, a handle); < 0: -errno */
  uint32_t flags;     /* AIOD_CQE_* (none yet)                               */
};

/* aiod_shm_header.daemon_flags (written by the daemon) */
#define AIOD_DAEMON_NEED_WAKEUP (1u << 0) /* the daemon may sleep: after publishing  */
                                          /* sq_tail, write the submit eventfd       */
#define AIOD_DAEMON_STOPPING (1u << 1)    /* the daemon is shutting down             */

/* aiod_shm_header.client_flags (written by the client) */
#define AIOD_CLIENT_NEED_WAKEUP (1u << 0) /* the client may sleep: after publishing  */
                                          /* cq_tail, write the completion eventfd   */

/*
 * The first page of the region. The description block is written once by the
 * daemon before the memfd is passed; each ring index and flag word then sits on
 * a cache line of its own. "Written by" says which side stores to the field; the
 * other side only loads it (with acquire ordering for indices).
 */
struct aiod_shm_header {
  /* Description: written by the daemon at creation, never read back by it. */
  uint32_t magic;        /* AIOD_SHM_MAGIC                        */
  uint32_t version;      /* AIOD_PROTOCOL_VERSION                 */
  uint32_t sq_entries;   /* power of two                          */
  uint32_t cq_entries;   /* power of two, AIOD_CQ_PER_SQ x sq     */
  uint64_t sq_offset;    /* byte offset of the submission ring    */
  uint64_t cq_offset;    /* byte offset of the completion ring    */
  uint64_t arena_offset; /* byte offset of the arena (page aligned) */
  uint64_t arena_size;   /* bytes                                 */
  uint64_t total_size;   /* bytes of the whole region             */
  uint8_t pad0[8];

  uint32_t sq_head; /* written by the daemon: descriptors consumed      */
  uint8_t pad1[60];
  uint32_t sq_tail; /* written by the client: descriptors published     */
  uint8_t pad2[60];
  uint32_t cq_head; /* written by the client: completions consumed      */
  uint8_t pad3[60];
  uint32_t cq_tail; /* written by the daemon: completions published     */
  uint8_t pad4[60];
  uint32_t daemon_flags; /* written by the daemon: AIOD_DAEMON_*       */
  uint32_t daemon_cpu;   /* written by the daemon: a hint, the CPU its  */
                         /* thread for this session last ran on + 1 (0: */
                         /* unknown). A client on that CPU gains nothing */
                         /* by spinning: the daemon cannot run meanwhile */
  uint8_t pad5[56];
  uint32_t client_flags; /* written by the client: AIOD_CLIENT_*       */
  uint8_t pad6[60];
};

#define AIOD_SHM_HEADER_SIZE 4096u

#if defined(__cplusplus)
static_assert(sizeof(struct aiod_sqe) == AIOD_SQE_SIZE, "aiod_sqe must be 64 bytes");
static_assert(sizeof(struct aiod_cqe) == AIOD_CQE_SIZE, "aiod_cqe must be 16 bytes");
static_assert(sizeof(struct aiod_shm_header) == 7 * AIOD_CACHELINE, "header layout changed");
static_assert(sizeof(struct aiod_iovec) == 16, "aiod_iovec layout changed");
static_assert(sizeof(struct aiod_sockaddr_out) == 136, "aiod_sockaddr_out layout changed");
static_assert(sizeof(struct aiod_msghdr) == 48, "aiod_msghdr layout changed");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct aiod_sqe) == AIOD_SQE_SIZE, "aiod_sqe must be 64 bytes");
_Static_assert(sizeof(struct aiod_cqe) == AIOD_CQE_SIZE, "aiod_cqe must be 16 bytes");
_Static_assert(sizeof(struct aiod_shm_header) == 7 * AIOD_CACHELINE, "header layout changed");
_Static_assert(sizeof(struct aiod_iovec) == 16, "aiod_iovec layout changed");
_Static_assert(sizeof(struct aiod_sockaddr_out) == 136, "aiod_sockaddr_out layout changed");
_Static_assert(sizeof(struct aiod_msghdr) == 48, "aiod_msghdr layout changed");
#endif

#ifdef __cplusplus
}
#endif

#endif /* AIOD_SHM_H */
