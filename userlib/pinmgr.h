/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libpinmgr: userspace access to /dev/pinmgr.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none sets or relies on errno. A context may be used by any number
 * of threads at once. See libpinmgr(3), a page per function, and
 * <linux/pinmgr.h> for what each errno means.
 */
#ifndef PINMGR_H
#define PINMGR_H

#include <stddef.h>
#include <stdint.h>
#include <linux/pinmgr.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PINMGR_DEFAULT_PATH "/dev/pinmgr"

struct pinmgr_ctx;

int pinmgr_open(struct pinmgr_ctx **ctxp);
int pinmgr_open_path(const char *path, struct pinmgr_ctx **ctxp);
void pinmgr_close(struct pinmgr_ctx *ctx);
int pinmgr_fd(const struct pinmgr_ctx *ctx);

/*
 * Structs the module fills in travel with the caller's sizeof (pass
 * sizeof(*info) and so on): docs/abi.md.
 */
int pinmgr_info(struct pinmgr_ctx *ctx, struct pinmgr_info *info,
		size_t size);
int pinmgr_pin(struct pinmgr_ctx *ctx, const void *addr, size_t length,
	       unsigned int flags, uint32_t *handle);
int pinmgr_pin_vec(struct pinmgr_ctx *ctx, unsigned int flags,
		   struct pinmgr_pin_range *ranges, unsigned int count);
int pinmgr_unpin(struct pinmgr_ctx *ctx, uint32_t handle);
int pinmgr_unpin_vec(struct pinmgr_ctx *ctx, const uint32_t *handles,
		     unsigned int count);
int pinmgr_update(struct pinmgr_ctx *ctx, const uint32_t *unpin,
		  unsigned int nr_unpin, unsigned int flags,
		  struct pinmgr_pin_range *pin, unsigned int nr_pin);
int pinmgr_query(struct pinmgr_ctx *ctx, uint32_t handle,
		 struct pinmgr_query *query, size_t size);
int pinmgr_segments(struct pinmgr_ctx *ctx, uint32_t handle,
		    unsigned int flags, uint64_t start,
		    struct pinmgr_segment *segs, unsigned int capacity);
int pinmgr_stats(struct pinmgr_ctx *ctx, struct pinmgr_stats *stats,
		 size_t size);
int pinmgr_access(struct pinmgr_ctx *ctx, uint32_t handle, unsigned int flags,
		  uint64_t offset, void *buf, size_t length);
int pinmgr_verify(struct pinmgr_ctx *ctx, uint32_t handle, uint64_t *differ,
		  uint64_t *first);
int pinmgr_events_read(struct pinmgr_ctx *ctx, struct pinmgr_event *events,
		       unsigned int max);
int pinmgr_export_dmabuf(struct pinmgr_ctx *ctx, uint32_t handle,
			 uint64_t offset, uint64_t length, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* PINMGR_H */
