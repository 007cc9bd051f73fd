export * from './image-name';
export * from './ecr-deployment';
