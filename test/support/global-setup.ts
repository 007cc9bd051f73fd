import { setup } from './tmpdir';
export default setup;
