/* Reads the tree bench/tests/vm_initrd.rs builds, under the directory
 * argv[1] ("/" in the VM, where it is the initramfs; the tree's own path
 * on the host). With argv[2] = "ro" it also checks what only the VM
 * promises: the files cannot be written (on the host root may write them)
 * and an instance has 16 descriptors for files.
 * Prints each failed check on stderr; exits 3 when every check passed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOTD "hello from the initramfs\n"

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAILED: %s (errno %d: %s)\n", what, errno, strerror(errno));
        failures++;
    }
}

static char path_buf[4096];

static const char *at(const char *root, const char *rel) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", root, rel);
    return path_buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: initrd_files ROOT [ro]\n");
        return 2;
    }
    const char *root = argv[1];
    int read_only = argc > 2 && strcmp(argv[2], "ro") == 0;
    char buf[256];
    struct stat st;

    /* open, read, fstat, pread, lseek, close */
    int fd = open(at(root, "etc/motd"), O_RDONLY);
    check(fd >= 3, "open etc/motd");
    ssize_t n = read(fd, buf, sizeof buf);
    check(n == (ssize_t)strlen(MOTD) && memcmp(buf, MOTD, n) == 0, "read etc/motd");
    check(read(fd, buf, sizeof buf) == 0, "read at end of file gives 0");
    check(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)strlen(MOTD)
              && st.st_nlink == 1 && st.st_ino != 0,
          "fstat etc/motd");
    check(pread(fd, buf, 4, 6) == 4 && memcmp(buf, "from", 4) == 0, "pread at offset 6");
    check(lseek(fd, 0, SEEK_END) == (off_t)strlen(MOTD), "lseek SEEK_END");
    check(lseek(fd, -5, SEEK_CUR) == (off_t)strlen(MOTD) - 5, "lseek SEEK_CUR");
    check(read(fd, buf, 4) == 4 && memcmp(buf, "amfs", 4) == 0, "read after lseek");
    check(close(fd) == 0, "close");
    check(close(fd) == -1 && errno == EBADF, "close twice: EBADF");

    /* stdio on top */
    FILE *f = fopen(at(root, "etc/sub/deep.txt"), "r");
    check(f != NULL, "fopen etc/sub/deep.txt");
    if (f) {
        check(fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "deep\n") == 0, "fgets");
        fclose(f);
    }

    /* directories: opendir/readdir, stat */
    DIR *dir = opendir(at(root, "etc"));
    check(dir != NULL, "opendir etc");
    int seen_motd = 0, seen_sub = 0, seen_link = 0, others = 0, dots = 0;
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                dots++;
            } else if (strcmp(e->d_name, "motd") == 0 && e->d_type == DT_REG) {
                seen_motd++;
            } else if (strcmp(e->d_name, "sub") == 0 && e->d_type == DT_DIR) {
                seen_sub++;
            } else if (strcmp(e->d_name, "link") == 0 && e->d_type == DT_LNK) {
                seen_link++;
            } else {
                others++;
            }
        }
        closedir(dir);
    }
    check(seen_motd == 1 && seen_sub == 1 && seen_link == 1 && others == 0 && dots == 2,
          "readdir etc: ., .., link, motd, sub");
    check(stat(at(root, "etc/sub"), &st) == 0 && S_ISDIR(st.st_mode), "stat etc/sub");
    check(stat(at(root, "etc/sub/../motd"), &st) == 0 && S_ISREG(st.st_mode), "stat through ..");
    check(open(at(root, "etc/motd"), O_RDONLY | O_DIRECTORY) == -1 && errno == ENOTDIR,
          "O_DIRECTORY on a file: ENOTDIR");
    fd = open(at(root, "etc"), O_RDONLY | O_DIRECTORY);
    check(fd >= 3, "open etc as a directory");
    check(read(fd, buf, 1) == -1 && errno == EISDIR, "read a directory: EISDIR");
    int motd = openat(fd, "motd", O_RDONLY);
    check(motd >= 3 && read(motd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0,
          "openat relative to a directory");
    close(motd);
    close(fd);

    /* symbolic links */
    ssize_t len = readlink(at(root, "etc/link"), buf, sizeof buf);
    check(len == 4 && memcmp(buf, "motd", 4) == 0, "readlink etc/link");
    check(lstat(at(root, "etc/link"), &st) == 0 && S_ISLNK(st.st_mode), "lstat etc/link");
    check(stat(at(root, "etc/link"), &st) == 0 && S_ISREG(st.st_mode), "stat follows etc/link");
    fd = open(at(root, "etc/link"), O_RDONLY);
    check(fd >= 3 && read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read through a link");
    close(fd);
    check(open(at(root, "loop"), O_RDONLY) == -1 && errno == ELOOP, "a link loop: ELOOP");
    check(open(at(root, "etc/link/"), O_RDONLY) == -1 && errno == ENOTDIR,
          "a link to a file, with a slash: ENOTDIR");
    check(readlink(at(root, "etc/motd"), buf, sizeof buf) == -1 && errno == EINVAL,
          "readlink of a file: EINVAL");

    /* what is not there */
    check(open(at(root, "missing"), O_RDONLY) == -1 && errno == ENOENT, "missing: ENOENT");
    check(open(at(root, "etc/motd/x"), O_RDONLY) == -1 && errno == ENOTDIR,
          "a file as a directory: ENOTDIR");

    /* rewinddir lists the same entries again */
    dir = opendir(at(root, "etc/sub"));
    check(dir != NULL, "opendir etc/sub");
    if (dir) {
        int first = 0, second = 0;
        while (readdir(dir) != NULL)
            first++;
        rewinddir(dir);
        while (readdir(dir) != NULL)
            second++;
        check(first == 3 && second == 3, "rewinddir: ., .., deep.txt twice");
        closedir(dir);
    }

    if (read_only) {
        /* The tiny kernel's 16 descriptors from fd 3, then EMFILE. */
        int fds[16], opened = 0;
        for (int i = 0; i < 16; i++) {
            fds[i] = open(at(root, "etc/motd"), O_RDONLY);
            opened += fds[i] == 3 + i;
        }
        check(opened == 16, "16 open files, fds 3 to 18");
        check(open(at(root, "etc/motd"), O_RDONLY) == -1 && errno == EMFILE, "the 17th: EMFILE");
        for (int i = 0; i < 16; i++)
            close(fds[i]);

        check(open(at(root, "etc/motd"), O_WRONLY) == -1 && errno == EROFS, "O_WRONLY: EROFS");
        check(open(at(root, "etc/new"), O_WRONLY | O_CREAT, 0644) == -1 && errno == EROFS,
              "O_CREAT: EROFS");
        fd = open(at(root, "etc/motd"), O_RDONLY);
        check(write(fd, "x", 1) == -1 && errno == EBADF, "write to a read-only fd: EBADF");
        close(fd);
    }

    if (failures == 0) {
        printf("initrd files: all checks passed\n");
        return 3;
    }
    return 1;
}
