/* replay_main.h - the main() of a fuzz target built without libFuzzer: replays saved inputs. */
#ifndef ULM_FUZZ_REPLAY_MAIN_H
#define ULM_FUZZ_REPLAY_MAIN_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef ULM_LIBFUZZER
/* Without libFuzzer: runs each file named, or each file in each directory named, once. The
 * input is copied to a buffer of exactly its size, so the sanitizers see a read past it. */

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        if (f)
            fclose(f);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    size_t got = data ? fread(data, 1, size, f) : 0;
    fclose(f);
    if (got != size) {
        fprintf(stderr, "cannot read %s\n", path);
        free(data);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int replay_directory(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ok &= replay_file(path);
        (*count)++;
    }
    closedir(d);
    return ok;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int ok = 1;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            ok &= replay_directory(argv[i], &count);
        } else {
            ok &= replay_file(argv[i]);
            count++;
        }
    }
    printf("replayed %zu inputs\n", count);
    /* nothing replayed is a misnamed corpus, not a pass */
    return ok && count ? 0 : 1;
}
#endif

#endif /* ULM_FUZZ_REPLAY_MAIN_H */
