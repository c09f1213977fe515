// File systems whose contents casync does not archive ("API" file systems:
// proc, sysfs, cgroups, …; casync-format.md §4.6): a directory on one is stored
// with no children and a regular file with an empty payload.

const API_FILESYSTEM_MAGICS = new Set([
  0x42494e4d, // binfmt_misc
  0x63677270, // cgroup2
  0x27e0eb, // cgroup
  0x62656570, // configfs
  0x64626720, // debugfs
  0x1cd1, // devpts
  0xde5e81e4, // efivarfs
  0x65735543, // fusectl
  0x958458f6, // hugetlbfs
  0x19800202, // mqueue
  0x6e667364, // nfsd
  0x9fa0, // proc
  0x6165676c, // pstore
  0x67596969, // rpc_pipefs
  0x73636673, // securityfs
  0xf97cff8c, // selinuxfs
  0x43415d53, // smackfs
  0x62656572, // sysfs
]);

export const isApiFileSystem = (fType: number) => API_FILESYSTEM_MAGICS.has(fType >>> 0);
