// The wasync WebAssembly core: pure computation over linear memory, no imports
// but abort, driven step by step by the TypeScript host.
export { allocate, windowHash, scan, resumePosition, WINDOW_SIZE } from './chunker';
export { siphash24 } from './siphash';
export {
  encoderInit, encoderInput, encoderOutput, encoderOffset, encoderDetail,
  encoderBegin, encoderUser, encoderGroup, encoderXattr, encoderAcl, encoderAclGroupObj,
  encoderAclDefault, encoderSelinux, encoderFcaps, encoderProjid, encoderPayloadSize,
  encoderSymlink, encoderDevice, encoderEmit, encoderPayloadDone, encoderSkipNode, encoderFilename, encoderGoodbye,
} from './catar-encoder';
export { bstPermutation } from './catar-encoder-goodbye';
export { normalizeFeatureFlags } from './catar-format';
export { decoderInit, decoderPut, decoderEof, decoderStep, decoderResult, decoderOffset } from './catar-decoder';
export { sha2Buffer, sha2Init, sha2Update, sha2Final, SHA2_BUFFER } from './sha2';
