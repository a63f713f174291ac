// class-transformer keeps its decorator metadata in this module; the package ships its typings under types/.
declare module 'class-transformer/cjs/storage' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage';
}
