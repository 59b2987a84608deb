/*
 * pvh-stub.S: the smallest guest QEMU's microvm machine boots through the
 * PVH entry point, for the whole-process comparison of
 * bench/scripts/whole-process.sh (versus vm against QEMU microvm, issue 13).
 *
 * QEMU (like Firecracker and versus) enters a PVH kernel in 32-bit protected
 * mode, paging off, at the address the Xen ELF note of type 18
 * (XEN_ELFNOTE_PHYS32_ENTRY) names. The stub writes its start marker, the
 * line "versus-stub", to the first serial port, then ends the VM through
 * the isa-debug-exit device (QEMU exits with status (value << 1) | 1: 1 for
 * the 0 written here); if that device is missing it halts for good.
 *
 * Build (GNU as and ld; no C library, no 32-bit multilib needed):
 *   as --32 -o pvh-stub.o bench/scripts/pvh-stub.S
 *   ld -m elf_i386 -Ttext=0x100000 -e pvh_start -o pvh-stub.elf pvh-stub.o
 * whole-process.sh builds it this way into its work directory.
 */

    .set COM1_DATA, 0x3f8       /* first serial port, transmit register */
    .set DEBUG_EXIT_PORT, 0xf4  /* -device isa-debug-exit,iobase=0xf4 */

    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                     /* name size: "Xen\0" */
    .long 4                     /* descriptor size: a 32-bit address */
    .long 18                    /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .text
    .code32
    .globl pvh_start
pvh_start:
    cli
    mov $marker, %esi
    mov $COM1_DATA, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx               /* the UART needs no set-up to transmit */
    jmp 1b
2:  xor %eax, %eax
    mov $DEBUG_EXIT_PORT, %dx
    outl %eax, %dx
3:  hlt
    jmp 3b

    .section .rodata
marker:
    .asciz "versus-stub\n"
