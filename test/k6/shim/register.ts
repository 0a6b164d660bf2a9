import { register } from 'node:module';

register(new URL('./hooks.ts', import.meta.url));
