/*
 * startup.c — the bare-metal runtime of the Cortex-M4 tests (QEMU
 * mps2-an386, semihosting; the memory map is mps2_an386.ld's).
 *
 * The vector table holds the initial stack pointer and Reset_Handler;
 * every other exception means the program went wrong, so its handler says
 * which one on the host's stderr and stops QEMU with a failure, through
 * semihosting calls of its own (it trusts nothing of newlib's state).
 * Reset_Handler enables the FPU, sets up .data and .bss, opens newlib's
 * semihosting streams and runs main(); main's return value is the exit
 * status QEMU reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;   /* mps2_an386.ld */
extern void initialise_monitor_handles(void);                     /* newlib's librdimon */
extern int main(void);

/* A semihosting call: operation op, argument arg (ARMv7-M: bkpt 0xab). */
static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04                      /* print a NUL-terminated string */
#define SYS_EXIT 0x18                        /* stop, with a reason */
#define ADP_Stopped_RunTimeErrorUnknown 0x20023   /* QEMU exits with status 1 */

/* Prints "fault: WHAT, CFSR 0x........" and stops QEMU with status 1. */
static void fail(const char *what)
{
    static const char hex[] = "0123456789abcdef";
    char msg[64] = "fault: ";
    uint32_t cfsr = *(volatile uint32_t *)0xE000ED28u;   /* configurable fault status */
    size_t n = strlen(msg);
    while (*what && n < sizeof msg - 24) msg[n++] = *what++;
    memcpy(msg + n, ", CFSR 0x", 9);
    n += 9;
    for (int i = 7; i >= 0; i--) msg[n++] = hex[(cfsr >> (4 * i)) & 0xf];
    msg[n++] = '\n';
    msg[n] = 0;
    semihost(SYS_WRITE0, msg);
    for (;;) semihost(SYS_EXIT, (const void *)ADP_Stopped_RunTimeErrorUnknown);
}

static void NMI_Handler(void) { fail("NMI"); }
static void HardFault_Handler(void) { fail("HardFault"); }
static void MemManage_Handler(void) { fail("MemManage"); }
static void BusFault_Handler(void) { fail("BusFault"); }
static void UsageFault_Handler(void) { fail("UsageFault"); }
static void Other_Handler(void) { fail("unexpected exception"); }

void Reset_Handler(void)
{
    /* CP10 and CP11 (the FPU) full access, before any floating-point instruction */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    if (&_sidata != &_sdata)
        memcpy(&_sdata, &_sidata, (size_t)((char *)&_edata - (char *)&_sdata));
    memset(&_sbss, 0, (size_t)((char *)&_ebss - (char *)&_sbss));
    initialise_monitor_handles();
    exit(main());
}

/* newlib's exit() runs __libc_fini_array, which calls _fini: crti.o's,
 * left out with the other start files (-nostartfiles); nothing to do here. */
void _fini(void);
void _fini(void) {}

typedef void (*handler)(void);
static const struct {
    uint32_t *sp;
    handler vector[15];   /* Reset, NMI, HardFault, ..., SysTick */
} vectors __attribute__((section(".isr_vector"), used)) = {
    &_estack,
    {Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler, BusFault_Handler, UsageFault_Handler,
     0, 0, 0, 0, Other_Handler, Other_Handler, 0, Other_Handler, Other_Handler},
};
