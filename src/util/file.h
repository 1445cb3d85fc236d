/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading a whole file into memory, with a size limit, so that a mistaken
 * path to a huge file (or a device that never ends) fails cleanly instead
 * of exhausting memory. Used for configs, samples, token files and state.
 */
#ifndef CN_UTIL_FILE_H
#define CN_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Read the file at path, of at most max bytes. Returns 0 with *data (the
 * caller frees it; NUL-terminated, so text can be used as a string) and
 * *len, or with "PATH: what" in err[0..errlen) (*data untouched):
 *  - CN_EIO: it cannot be opened or read ("No such file or directory",
 *    "Is a directory", ...);
 *  - CN_ETOOBIG: it holds more than max bytes ("larger than the limit of
 *    16 MiB").
 */
int cn_file_read(const char *path, size_t max, char **data, size_t *len, char *err,
                 size_t errlen);

/* The same from an open stream (stdin for "-"), named name in messages.
 * Reads to the end; does not close f. */
int cn_file_read_stream(FILE *f, const char *name, size_t max, char **data, size_t *len,
                        char *err, size_t errlen);

#endif
