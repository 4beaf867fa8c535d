/** The console's shell: the session, the landmarks (banner, navigation, main) and the page for the hash route. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, setCsrfToken, whenUnauthenticated } from './api';
import type { User } from './models';
import { href, pathParts, useHashPath } from './router';
import { LoginPage } from './pages/login';
import { SetPasswordPage, setPasswordToken } from './pages/set-password';
import { DashboardPage } from './pages/dashboard';
import { ChannelsPage, ChannelEditPage } from './pages/channels';
import { ClientsPage, ClientEditPage } from './pages/clients';
import { TransactionsPage } from './pages/transactions';
import { TransactionPage } from './pages/transaction';
import { MediatorsPage, MediatorPage } from './pages/mediators';
import { TasksPage } from './pages/tasks';
import { UsersPage, RolesPage, AuditsPage } from './pages/admin';
import { ArchitecturePage } from './pages/architecture';
import { CertificatesPage } from './pages/certificates';
import { LogsPage } from './pages/logs';
import { ClientRegistryPage, GoldenRecordPage, PatientPage, PatientsPage } from './pages/registries';
import './styles.css';

interface Session {
  user: User;
  csrfToken: string;
}

/** Pages only admins can use (the admin API answers everyone else 403): hidden from other users. */
const ADMIN_ONLY = new Set(['/clients', '/mediators', '/roles', '/users', '/audits', '/certificates', '/logs']);

const NAV: Array<[string, string]> = [
  ['/', 'Dashboard'],
  ['/architecture', 'Architecture'],
  ['/transactions', 'Transactions'],
  ['/channels', 'Channels'],
  ['/clients', 'Clients'],
  ['/mediators', 'Mediators'],
  ['/tasks', 'Tasks'],
  ['/roles', 'Roles'],
  ['/users', 'Users'],
  ['/audits', 'Audits'],
  ['/certificates', 'Certificates'],
  ['/logs', 'Server logs'],
];

function pageFor(path: string) {
  const [, section = '', id] = pathParts(path);
  switch (section) {
    case '': return <DashboardPage />;
    case 'architecture': return <ArchitecturePage />;
    case 'transactions': return id ? <TransactionPage id={id} /> : <TransactionsPage />;
    case 'channels': return id ? <ChannelEditPage id={id} /> : <ChannelsPage />;
    case 'clients': return id ? <ClientEditPage id={id} /> : <ClientsPage />;
    case 'mediators': return id ? <MediatorPage urn={id} /> : <MediatorsPage />;
    case 'tasks': return <TasksPage />;
    case 'roles': return <RolesPage />;
    case 'users': return <UsersPage />;
    case 'audits': return <AuditsPage />;
    case 'certificates': return <CertificatesPage />;
    case 'logs': return <LogsPage />;
    case 'patients': return id ? <PatientPage id={id} /> : <PatientsPage />;
    case 'client-registry': return id ? <GoldenRecordPage id={id} /> : <ClientRegistryPage />;
    default: return <p>No page here. <a href={href('/')}>Go to the dashboard</a>.</p>;
  }
}

/**
 * The registry browsers appear when the console can reach them and the user may use them; asked
 * again on every navigation, so a registry started later shows up without a reload.
 */
function useRegistryNav(path: string): Array<[string, string]> {
  const [links, setLinks] = useState<Array<[string, string]>>([]);
  useEffect(() => {
    request<{ shr: boolean; cr: boolean }>('GET', '/console/registries').then(
      (r) => setLinks([...(r.shr ? [['/patients', 'Patients'] as [string, string]] : []), ...(r.cr ? [['/client-registry', 'Client registry'] as [string, string]] : [])]),
      () => setLinks([]),
    );
  }, [path]);
  return links;
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const path = useHashPath();
  const registryNav = useRegistryNav(path);
  const isAdmin = !!session.user.groups?.includes('admin');
  const main = useRef<HTMLElement>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  // A new page moves focus to its content, as a page load would, for keyboard and screen-reader users.
  useEffect(() => {
    main.current?.focus();
    setMenuOpen(false);
  }, [path]);
  const section = `/${path.split('/')[1] ?? ''}`;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>Skip to content</a>
      <header class="banner">
        <span class="brand">Instant OpenHIE</span>
        <button type="button" class="menu" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <span class="who">{session.user.email}</span>
        <button type="button" onClick={onLogout}>Log out</button>
      </header>
      <div class="layout">
        <nav id="main-nav" class={menuOpen ? 'open' : ''} aria-label="Main">
          <ul>
            {[...NAV.filter(([to]) => isAdmin || !ADMIN_ONLY.has(to)), ...registryNav].map(([to, label]) => (
              <li key={to}><a href={href(to)} aria-current={section === to ? 'page' : undefined}>{label}</a></li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={main} tabIndex={-1}>{pageFor(path)}</main>
      </div>
    </>
  );
}

function App() {
  const path = useHashPath();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    whenUnauthenticated(() => setSession(null));
    request<Session>('GET', '/console/session').then(
      (s) => { setCsrfToken(s.csrfToken); setSession(s); },
      () => setSession(null),
    );
  }, []);
  // An e-mailed set-password link works without a session (and whatever session there is).
  const resetToken = setPasswordToken(path);
  if (resetToken) return <SetPasswordPage token={resetToken} />;
  if (session === undefined) return <p class="loading" role="status">Loading…</p>;
  if (!session) {
    return <LoginPage onLogin={(s: Session) => { setCsrfToken(s.csrfToken); setSession(s); }} />;
  }
  const logout = async () => {
    await request('DELETE', '/console/session').catch(() => undefined);
    setCsrfToken('');
    setSession(null);
  };
  return <Shell session={session} onLogout={logout} />;
}

render(<App />, document.getElementById('app')!);
