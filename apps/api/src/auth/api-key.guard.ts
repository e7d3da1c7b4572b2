import { CanActivate, ExecutionContext, Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyRequest } from 'fastify';
import { ApiRole } from '@omnihub/persistence';
import { HubError } from '@omnihub/core';
import { ApiErrors } from '../http/openapi';
import { ApiKeysService, Caller } from './api-keys.service';

/** What an endpoint does, and so which roles may call it. */
export type Permission = 'read' | 'configure' | 'operate' | 'administer';

const ROLES_BY_PERMISSION: Record<Permission, readonly ApiRole[]> = {
  read: ['admin', 'integrator', 'operator', 'viewer'],
  configure: ['admin', 'integrator'],
  operate: ['admin', 'operator'],
  administer: ['admin'],
};

const PERMISSION_KEY = 'omnihub:permission';
/** Also documents the 403 a role without the permission gets. */
export const Requires = (permission: Permission) => applyDecorators(SetMetadata(PERMISSION_KEY, permission), ApiErrors(403));

export type AuthenticatedRequest = FastifyRequest & { caller?: Caller };

/** Bearer API keys for every /api endpoint. Endpoints without @Requires need only a valid key. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new HubError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>"', 401);
    const caller = await this.keys.authenticate(match[1]!);
    if (!caller) throw new HubError('UNAUTHORIZED', 'the API key is not valid', 401);
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION_KEY, [context.getHandler(), context.getClass()]) ?? 'read';
    if (!ROLES_BY_PERMISSION[permission].includes(caller.role)) {
      throw new HubError('FORBIDDEN', `role ${caller.role} may not ${permission}`, 403);
    }
    request.caller = caller;
    return true;
  }
}
