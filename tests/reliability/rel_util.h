/* rel_util.h: files and scratch directories for the reliability tests. */
#ifndef REL_UTIL_H
#define REL_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *rel_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    size_t n = strlen(base) + strlen(tag) + 16;
    char *d = malloc(n);
    if (!d) return NULL;
    snprintf(d, n, "%s/%s-XXXXXX", base, tag);
    if (!mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

/* dir/name into buf. */
static inline char *rel_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* Removes every file in dir, then dir (the tests make no subdirectories). */
static inline void rel_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(rel_path(p, sizeof p, dir, e->d_name));
    closedir(d);
    rmdir(dir);
}

/* How many names in dir contain `part`. */
static inline int rel_count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static inline int rel_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

/* The whole file, malloc'd; *len gets its size.  NULL on error. */
static inline unsigned char *rel_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(buf, cap *= 2);
        if (!nb) free(buf);
        buf = nb;
    }
    fclose(f);
    if (buf) *len = n;
    return buf;
}

/* A safetensors file from a header string and data_len bytes of data
 * (byte i of the data section is i & 0xff). */
static inline int rel_write_safetensors(const char *path, const char *header, size_t data_len)
{
    size_t hlen = strlen(header);
    unsigned char *buf = malloc(8 + hlen + data_len);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (unsigned char)(i & 0xff);
    int r = rel_write_file(path, buf, 8 + hlen + data_len);
    free(buf);
    return r;
}

#endif
