/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ABI of <linux/pinmgr.h>, pinned at compile time.
 *
 * This file includes the UAPI header and nothing else but <stddef.h>, and is
 * compiled (never run) by `make lint-abi` as C89, C11 and C++11, each for
 * x86-64 and i386: the header must stand alone in all of them, and every
 * struct must have the same size, alignment and field offsets everywhere
 * (64-bit fields are __aligned_u64, so a 32-bit process talks to a 64-bit
 * kernel through compat_ptr_ioctl with no translation). tests/abi/coverage.sh
 * checks that every struct and field of the header is pinned here.
 *
 * Changing any number below breaks userspace that is already compiled. A
 * struct may only grow at its end, and only as the DOC block of the header
 * says (old sizes stay accepted): add the new field here and keep the old
 * size as a *_SIZE_V1 ... constant, as for struct pinmgr_stats.
 */
#include <stddef.h>
#include <linux/pinmgr.h>

#define ABI_CAT2(a, b) a##b
#define ABI_CAT(a, b) ABI_CAT2(a, b)

#if defined(__cplusplus) && __cplusplus >= 201103L
#define ABI_ASSERT(cond, name) static_assert(cond, #name)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define ABI_ASSERT(cond, name) _Static_assert(cond, #name)
#else
/* C89: an array of negative size does not compile. */
#define ABI_ASSERT(cond, name) typedef char ABI_CAT(abi_, name)[(cond) ? 1 : -1]
#endif

/* Field @f of struct @s is @sz bytes at offset @off. */
#define ABI_FIELD(s, f, off, sz)					\
	ABI_ASSERT(offsetof(struct s, f) == (off), s##__##f##__offset);	\
	ABI_ASSERT(sizeof(((struct s *)0)->f) == (sz), s##__##f##__size)

/* struct @s is @sz bytes, aligned to @al bytes. */
#define ABI_STRUCT(s, sz, al)						\
	struct abi_align_##s { char c; struct s x; };			\
	ABI_ASSERT(sizeof(struct s) == (sz), s##__size);		\
	ABI_ASSERT(offsetof(struct abi_align_##s, x) == (al), s##__align)

/* The ioctl command word: _IOWR(0xBC, nr, struct) with today's size. */
#define ABI_IOCTL(cmd, val) ABI_ASSERT((cmd) == (val##UL), cmd##__number)

ABI_ASSERT(PINMGR_ABI_VERSION == 1, abi_version);
ABI_ASSERT(PINMGR_TYPE == 0xBC, ioctl_type);

ABI_ASSERT(PINMGR_CMD_INFO == 0, cmd_info);
ABI_ASSERT(PINMGR_CMD_PIN == 1, cmd_pin);
ABI_ASSERT(PINMGR_CMD_UNPIN == 2, cmd_unpin);
ABI_ASSERT(PINMGR_CMD_QUERY == 3, cmd_query);
ABI_ASSERT(PINMGR_CMD_SEGMENTS == 4, cmd_segments);
ABI_ASSERT(PINMGR_CMD_STATS == 5, cmd_stats);
ABI_ASSERT(PINMGR_CMD_ACCESS == 6, cmd_access);

ABI_ASSERT(PINMGR_PIN_WRITE == 1, pin_write);
ABI_ASSERT(PINMGR_SEGMENTS_PHYS == 1, segments_phys);
ABI_ASSERT(PINMGR_ACCESS_WRITE == 1, access_write);
ABI_ASSERT(PINMGR_CAP_PHYS == 1, cap_phys);
ABI_ASSERT(PINMGR_CAP_TEST_ACCESS == 2, cap_test_access);

ABI_STRUCT(pinmgr_info, 56, 8);
ABI_FIELD(pinmgr_info, size, 0, 4);
ABI_FIELD(pinmgr_info, flags, 4, 4);
ABI_FIELD(pinmgr_info, out_abi_version, 8, 4);
ABI_FIELD(pinmgr_info, out_page_size, 12, 4);
ABI_FIELD(pinmgr_info, out_pin_flags, 16, 8);
ABI_FIELD(pinmgr_info, out_segments_flags, 24, 8);
ABI_FIELD(pinmgr_info, out_caps, 32, 8);
ABI_FIELD(pinmgr_info, out_max_pages_per_pin, 40, 8);
ABI_FIELD(pinmgr_info, out_max_regions, 48, 8);
ABI_IOCTL(PINMGR_INFO, 0xC038BC00);

ABI_STRUCT(pinmgr_pin, 40, 8);
ABI_FIELD(pinmgr_pin, size, 0, 4);
ABI_FIELD(pinmgr_pin, flags, 4, 4);
ABI_FIELD(pinmgr_pin, addr, 8, 8);
ABI_FIELD(pinmgr_pin, length, 16, 8);
ABI_FIELD(pinmgr_pin, out_handle, 24, 4);
ABI_FIELD(pinmgr_pin, out_offset, 28, 4);
ABI_FIELD(pinmgr_pin, out_npages, 32, 8);
ABI_IOCTL(PINMGR_PIN, 0xC028BC01);

ABI_STRUCT(pinmgr_unpin, 16, 4);
ABI_FIELD(pinmgr_unpin, size, 0, 4);
ABI_FIELD(pinmgr_unpin, flags, 4, 4);
ABI_FIELD(pinmgr_unpin, handle, 8, 4);
ABI_FIELD(pinmgr_unpin, __reserved, 12, 4);
ABI_IOCTL(PINMGR_UNPIN, 0xC010BC02);

ABI_STRUCT(pinmgr_query, 56, 8);
ABI_FIELD(pinmgr_query, size, 0, 4);
ABI_FIELD(pinmgr_query, flags, 4, 4);
ABI_FIELD(pinmgr_query, handle, 8, 4);
ABI_FIELD(pinmgr_query, out_flags, 12, 4);
ABI_FIELD(pinmgr_query, out_addr, 16, 8);
ABI_FIELD(pinmgr_query, out_length, 24, 8);
ABI_FIELD(pinmgr_query, out_npages, 32, 8);
ABI_FIELD(pinmgr_query, out_nsegs, 40, 8);
ABI_FIELD(pinmgr_query, out_offset, 48, 4);
ABI_FIELD(pinmgr_query, __reserved, 52, 4);
ABI_IOCTL(PINMGR_QUERY, 0xC038BC03);

ABI_STRUCT(pinmgr_segment, 24, 8);
ABI_FIELD(pinmgr_segment, offset, 0, 8);
ABI_FIELD(pinmgr_segment, length, 8, 8);
ABI_FIELD(pinmgr_segment, phys, 16, 8);

ABI_STRUCT(pinmgr_segments, 56, 8);
ABI_FIELD(pinmgr_segments, size, 0, 4);
ABI_FIELD(pinmgr_segments, flags, 4, 4);
ABI_FIELD(pinmgr_segments, handle, 8, 4);
ABI_FIELD(pinmgr_segments, __reserved, 12, 4);
ABI_FIELD(pinmgr_segments, start, 16, 8);
ABI_FIELD(pinmgr_segments, capacity, 24, 8);
ABI_FIELD(pinmgr_segments, segs, 32, 8);
ABI_FIELD(pinmgr_segments, out_count, 40, 8);
ABI_FIELD(pinmgr_segments, out_total, 48, 8);
ABI_IOCTL(PINMGR_SEGMENTS, 0xC038BC04);

/*
 * struct pinmgr_stats grew: ABI v1 ended after out_failed_pins (56 bytes,
 * command word 0xC038BC05); out_metadata_bytes came next. The module takes
 * the command by type, number and direction only and accepts any size from
 * the v1 size up, so binaries built against the v1 header keep working.
 */
#define PINMGR_STATS_SIZE_V1	56
ABI_STRUCT(pinmgr_stats, 72, 8);
ABI_FIELD(pinmgr_stats, size, 0, 4);
ABI_FIELD(pinmgr_stats, flags, 4, 4);
ABI_FIELD(pinmgr_stats, out_regions, 8, 8);
ABI_FIELD(pinmgr_stats, out_pinned_pages, 16, 8);
ABI_FIELD(pinmgr_stats, out_peak_pages, 24, 8);
ABI_FIELD(pinmgr_stats, out_pins, 32, 8);
ABI_FIELD(pinmgr_stats, out_unpins, 40, 8);
ABI_FIELD(pinmgr_stats, out_failed_pins, 48, 8);
ABI_FIELD(pinmgr_stats, out_metadata_bytes, PINMGR_STATS_SIZE_V1, 8);
ABI_FIELD(pinmgr_stats, out_diverged_regions, 64, 8);
ABI_IOCTL(PINMGR_STATS, 0xC048BC05);

ABI_STRUCT(pinmgr_access, 40, 8);
ABI_FIELD(pinmgr_access, size, 0, 4);
ABI_FIELD(pinmgr_access, flags, 4, 4);
ABI_FIELD(pinmgr_access, handle, 8, 4);
ABI_FIELD(pinmgr_access, __reserved, 12, 4);
ABI_FIELD(pinmgr_access, offset, 16, 8);
ABI_FIELD(pinmgr_access, length, 24, 8);
ABI_FIELD(pinmgr_access, buf, 32, 8);
ABI_IOCTL(PINMGR_ACCESS, 0xC028BC06);

#ifdef PINMGR_PIN_VEC
ABI_ASSERT(PINMGR_CMD_PIN_VEC == 7, cmd_pin_vec);
ABI_ASSERT(PINMGR_PIN_VEC_MAX == 65536, pin_vec_max);

ABI_STRUCT(pinmgr_pin_range, 32, 8);
ABI_FIELD(pinmgr_pin_range, addr, 0, 8);
ABI_FIELD(pinmgr_pin_range, length, 8, 8);
ABI_FIELD(pinmgr_pin_range, out_handle, 16, 4);
ABI_FIELD(pinmgr_pin_range, out_offset, 20, 4);
ABI_FIELD(pinmgr_pin_range, out_npages, 24, 8);

ABI_STRUCT(pinmgr_pin_vec, 24, 8);
ABI_FIELD(pinmgr_pin_vec, size, 0, 4);
ABI_FIELD(pinmgr_pin_vec, flags, 4, 4);
ABI_FIELD(pinmgr_pin_vec, count, 8, 4);
ABI_FIELD(pinmgr_pin_vec, __reserved, 12, 4);
ABI_FIELD(pinmgr_pin_vec, ranges, 16, 8);
ABI_IOCTL(PINMGR_PIN_VEC, 0xC018BC07);
#endif

#ifdef PINMGR_VERIFY
ABI_ASSERT(PINMGR_CMD_VERIFY == 8, cmd_verify);
ABI_ASSERT(PINMGR_VERIFY_NONE == ~(__u64)0, verify_none);

ABI_STRUCT(pinmgr_verify, 40, 8);
ABI_FIELD(pinmgr_verify, size, 0, 4);
ABI_FIELD(pinmgr_verify, flags, 4, 4);
ABI_FIELD(pinmgr_verify, handle, 8, 4);
ABI_FIELD(pinmgr_verify, __reserved, 12, 4);
ABI_FIELD(pinmgr_verify, out_npages, 16, 8);
ABI_FIELD(pinmgr_verify, out_differ, 24, 8);
ABI_FIELD(pinmgr_verify, out_first, 32, 8);
ABI_IOCTL(PINMGR_VERIFY, 0xC028BC08);

ABI_ASSERT(PINMGR_CAP_EVENTS == 4, cap_events);
ABI_ASSERT(PINMGR_EVENT_UNMAP == 1 && PINMGR_EVENT_CLEAR == 2 &&
	   PINMGR_EVENT_PROTECTION_VMA == 4 &&
	   PINMGR_EVENT_PROTECTION_PAGE == 8 &&
	   PINMGR_EVENT_SOFT_DIRTY == 16 && PINMGR_EVENT_RELEASE == 32 &&
	   PINMGR_EVENT_MIGRATE == 64 && PINMGR_EVENT_EXCLUSIVE == 128 &&
	   PINMGR_EVENT_OTHER == 256, event_kinds);
ABI_STRUCT(pinmgr_event, 32, 8);
ABI_FIELD(pinmgr_event, handle, 0, 4);
ABI_FIELD(pinmgr_event, flags, 4, 4);
ABI_FIELD(pinmgr_event, kinds, 8, 8);
ABI_FIELD(pinmgr_event, start, 16, 8);
ABI_FIELD(pinmgr_event, end, 24, 8);
#endif

#ifdef PINMGR_UPDATE
ABI_ASSERT(PINMGR_CMD_UPDATE == 9, cmd_update);
ABI_ASSERT(PINMGR_UNPIN_VEC_MAX == 1024, unpin_vec_max);
ABI_STRUCT(pinmgr_update, 32, 8);
ABI_FIELD(pinmgr_update, size, 0, 4);
ABI_FIELD(pinmgr_update, flags, 4, 4);
ABI_FIELD(pinmgr_update, nr_unpin, 8, 4);
ABI_FIELD(pinmgr_update, nr_pin, 12, 4);
ABI_FIELD(pinmgr_update, unpin, 16, 8);
ABI_FIELD(pinmgr_update, pin, 24, 8);
ABI_IOCTL(PINMGR_UPDATE, 0xC020BC09);
#endif

#ifdef PINMGR_EXPORT_DMABUF
ABI_ASSERT(PINMGR_CMD_EXPORT_DMABUF == 10, cmd_export_dmabuf);
ABI_ASSERT(PINMGR_CAP_EXPORT_DMABUF == 8, cap_export_dmabuf);
ABI_STRUCT(pinmgr_export_dmabuf, 40, 8);
ABI_FIELD(pinmgr_export_dmabuf, size, 0, 4);
ABI_FIELD(pinmgr_export_dmabuf, flags, 4, 4);
ABI_FIELD(pinmgr_export_dmabuf, handle, 8, 4);
ABI_FIELD(pinmgr_export_dmabuf, __reserved, 12, 4);
ABI_FIELD(pinmgr_export_dmabuf, offset, 16, 8);
ABI_FIELD(pinmgr_export_dmabuf, length, 24, 8);
ABI_FIELD(pinmgr_export_dmabuf, out_fd, 32, 4);
ABI_FIELD(pinmgr_export_dmabuf, __reserved2, 36, 4);
ABI_IOCTL(PINMGR_EXPORT_DMABUF, 0xC028BC0A);
#endif

/* ISO C wants a translation unit to declare something of its own. */
extern int pinmgr_abi_pinned;
