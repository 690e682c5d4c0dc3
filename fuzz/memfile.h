/* (Define _GNU_SOURCE before any include.) For fuzz targets whose decoder reads a file: the input as an in-memory
 * file (memfd), reachable by path.  Returns the fd (close it) and fills
 * path, or -1. */
#ifndef QFS_FUZZ_MEMFILE_H
#define QFS_FUZZ_MEMFILE_H


#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
