import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { AppConfig, loadConfig } from './app-config';
import { APP_CONFIG, ConfigModule, InjectConfig } from './config.module';

@Injectable()
class Consumer {
  constructor(@InjectConfig() readonly config: AppConfig) {}
}

describe('ConfigModule (@nestjs/config over loadConfig)', () => {
  it('gives every consumer the AppConfig a test puts in APP_CONFIG, and ConfigService the same object, without reading process.env', async () => {
    const config = loadConfig({ NODE_ENV: 'test', PORT: '4321', QUEUE_PREFIX: 'config-module-spec' });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule], providers: [Consumer] })
      .overrideProvider(APP_CONFIG)
      .useValue(config)
      .compile();
    try {
      assert.equal(moduleRef.get(Consumer).config, config);
      const service = moduleRef.get(ConfigService);
      assert.equal(service.get<AppConfig>('app'), config);
      assert.equal(service.get<number>('app.port'), 4321);
      // Only the validated configuration: a raw variable is not served, even one the environment sets.
      assert.equal(service.get<string>('PATH'), undefined);
    } finally {
      await moduleRef.close();
    }
  });
});
