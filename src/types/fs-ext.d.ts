/** fs-ext ships no types: the one function used here (flock(2) on a descriptor; throws an errno Error, `code` EAGAIN/EWOULDBLOCK when held). */
declare module 'fs-ext' {
  export function flockSync(fd: number, flags: 'sh' | 'ex' | 'shnb' | 'exnb' | 'un'): void;
  const fsExt: { flockSync: typeof flockSync };
  export default fsExt;
}
