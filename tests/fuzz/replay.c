/* replay: runs a fuzz harness over every file in the given directories, so
 * the seed corpus and every input a fuzzer once crashed on stay regression
 * tests in the normal build (and under ASan+UBSan) without libFuzzer. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rel_util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int run_file(const char *path)
{
    size_t n = 0;
    unsigned char *buf = rel_read_file(path, &n);
    if (!buf) return -1;
    /* An exact-size copy, so ASan sees a read one byte past the input. */
    unsigned char *exact = malloc(n ? n : 1);
    if (exact) {
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
    }
    free(buf);
    free(exact);
    return exact ? 0 : -1;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s\n", argv[a]);
            bad++;
            continue;
        }
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            if (run_file(path) != 0) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                bad++;
            }
            files++;
        }
        closedir(d);
    }
    printf("replay: %d inputs, %d unreadable\n", files, bad);
    return bad || files == 0;
}
