// The size a file system on a block device declares in its superblock, as casync's
// read_file_system_size() reads it (casync-format.md §7.8).  casync trims a block
// device to this size when it makes a blob index, so an A/B partition larger than
// its file system gives the same index as the image it was written from.
//
// Layout of the first 1082 bytes read (all little-endian):
//   squashfs   @0:  u32 s_magic "hsqs", …, u64 bytes_used @40  → rounded up to 4096
//   Android    @0:  "ANDROID!", kernel/ramdisk/second sizes @8/@16/@24,
//   boot image      page_size @36, dtb size @40 → header and parts, each page-aligned
//   FAT        @11: u16 bytes per sector, @19: u16 sectors, @32: u32 total sectors,
//                   @510: 0xaa55
//   ext2/3/4   @1024: u32 s_blocks_count @1028, u32 s_log_block_size @1048,
//                   u16 s_magic 0xef53 @1080
// casync tests them in this order and reads only the low 32 bits of ext4's block
// count; both are kept for identical results.

export const FS_SIZE_PROBE_BYTES = 1082;

const SQUASHFS_MAGIC = 0x73717368;
const ANDROID_BOOTIMG_MAGIC_1 = 0x52444e41;
const ANDROID_BOOTIMG_MAGIC_2 = 0x2144494f;
const FAT_SIGNATURE = 0xaa55;
const EXT2_SUPER_MAGIC = 0xef53;

const alignTo = (v: number, a: number) => Math.ceil(v / a) * a;
const isPowerOfTwo = (v: number) => v > 0 && (v & (v - 1)) === 0;

/** The declared size, or null when no known superblock is found. */
export function readFileSystemSize(head: Uint8Array): number | null {
  if (head.length < FS_SIZE_PROBE_BYTES) return null;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u16 = (o: number) => v.getUint16(o, true);
  const u32 = (o: number) => v.getUint32(o, true);

  if (u32(0) === SQUASHFS_MAGIC) return alignTo(Number(v.getBigUint64(40, true)), 4096);

  if (u32(0) === ANDROID_BOOTIMG_MAGIC_1 && u32(4) === ANDROID_BOOTIMG_MAGIC_2) {
    const page = u32(36);
    if (isPowerOfTwo(page)) {
      return [608, u32(8), u32(16), u32(24), u32(40)].reduce((s, x) => s + alignTo(x, page), 0);
    }
  }

  if (u16(510) === FAT_SIGNATURE) {
    const sector = u16(11);
    if (isPowerOfTwo(sector)) {
      const l = u16(19) * sector || u32(32) * sector;
      if (l > 0) return l;
    }
  }

  if (u16(1080) === EXT2_SUPER_MAGIC) {
    const shift = 10 + u32(1048);
    if (shift < 64) return u32(1028) * 2 ** shift;
  }
  return null;
}
